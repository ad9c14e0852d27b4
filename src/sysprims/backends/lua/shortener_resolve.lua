-- The URL of a live link, counting one click if asked.
-- KEYS: 1=link hash, 2=clicks zset   ARGV: 1=code, 2=now_ms, 3='1' to count a click
-- Returns the URL, or false if the code is unknown or expired.
local v = redis.call('HMGET', KEYS[1], 'u', 'e')
if not v[1] then
  return false
end
if v[2] and v[2] ~= '' and tonumber(v[2]) <= tonumber(ARGV[2]) then
  return false
end
if ARGV[3] == '1' then
  redis.call('HINCRBY', KEYS[1], 'k', 1)
  redis.call('ZINCRBY', KEYS[2], 1, ARGV[1])
end
return v[1]
