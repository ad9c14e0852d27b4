-- Store one link if its code is free (absent, or expired at `now`).
-- KEYS: 1=link hash, 2=url index, 3=link count, 4=expiry zset, 5=clicks zset
-- ARGV: 1=code, 2=url, 3=strategy, 4=created_ms, 5=expires_ms or '', 6=now_ms
-- Returns 1 if stored, 0 if the code is taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  local e = redis.call('HGET', KEYS[1], 'e')
  if (not e) or e == '' or tonumber(e) > tonumber(ARGV[6]) then
    return 0
  end
  -- expired: only links with an expiry get here, and they are not in the url index
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
  redis.call('DECR', KEYS[3])
end
redis.call('HSET', KEYS[1], 'u', ARGV[2], 's', ARGV[3], 'c', ARGV[4], 'e', ARGV[5], 'k', 0)
redis.call('INCR', KEYS[3])
if ARGV[5] == '' then
  redis.call('HSETNX', KEYS[2], ARGV[3] .. '\0' .. ARGV[2], ARGV[1])
else
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
end
return 1
