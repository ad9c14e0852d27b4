-- Remove one link. If ARGV[2] is given, only when it expired at that time.
-- KEYS: 1=link hash, 2=url index, 3=link count, 4=expiry zset, 5=clicks zset
-- ARGV: 1=code, 2=now_ms or ''
-- Returns 1 if removed.
local v = redis.call('HMGET', KEYS[1], 'u', 's', 'e')
if not v[1] then
  return 0
end
if ARGV[2] ~= '' then
  if (not v[3]) or v[3] == '' or tonumber(v[3]) > tonumber(ARGV[2]) then
    return 0
  end
end
local ikey = v[2] .. '\0' .. v[1]
if redis.call('HGET', KEYS[2], ikey) == ARGV[1] then
  redis.call('HDEL', KEYS[2], ikey)
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('DECR', KEYS[3])
return 1
