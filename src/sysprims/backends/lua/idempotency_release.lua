-- Give a claimed key back (the operation failed), only if the claim is still ours.
-- KEYS[1]: the record   ARGV[1]: token
-- Returns 1 when released, 0 otherwise.
local r = redis.call('HMGET', KEYS[1], 'state', 'token')
if r[1] == 'running' and r[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
