-- All or nothing: store every link, or none if any code exists or repeats.
-- KEYS: 1=url index, 2=link count, 3=expiry zset, 4..=link hashes (one per link)
-- ARGV: 1=strategy, 2=created_ms, 3=expires_ms or '', then code, url pairs
-- Returns 1 if stored, 0 if nothing was stored.
local n = #KEYS - 3
local seen = {}
for i = 1, n do
  if redis.call('EXISTS', KEYS[i + 3]) == 1 then
    return 0
  end
  local code = ARGV[2 + 2 * i]
  if seen[code] then
    return 0
  end
  seen[code] = true
end
local permanent = ARGV[3] == ''
for i = 1, n do
  local code = ARGV[2 + 2 * i]
  local url = ARGV[3 + 2 * i]
  redis.call('HSET', KEYS[i + 3], 'u', url, 's', ARGV[1], 'c', ARGV[2], 'e', ARGV[3], 'k', 0)
  if permanent then
    redis.call('HSETNX', KEYS[1], ARGV[1] .. '\0' .. url, code)
  else
    redis.call('ZADD', KEYS[3], ARGV[3], code)
  end
end
redis.call('INCRBY', KEYS[2], n)
return 1
