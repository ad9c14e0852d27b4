-- Delete records whose expiry (caller's clock) has passed.
-- KEYS: records   ARGV[1]: now
-- Returns the number deleted.
local n = 0
for i, k in ipairs(KEYS) do
  local exp = redis.call('HGET', k, 'exp')
  if exp and tonumber(exp) <= tonumber(ARGV[1]) then
    redis.call('DEL', k)
    n = n + 1
  end
end
return n
