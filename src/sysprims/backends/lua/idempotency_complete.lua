-- Store the outcome of a claimed key, only if the claim is still ours.
-- KEYS[1]: the record   ARGV[1]: token   ARGV[2]: state ('done' or 'error')   ARGV[3]: payload
-- ARGV[4]: now   ARGV[5]: expiry (seconds, caller's clock)   ARGV[6]: lifetime in ms (Redis-side backstop)
-- Returns 1 when stored, 0 when the claim was lost (expired and taken, or deleted).
local r = redis.call('HMGET', KEYS[1], 'state', 'token')
if r[1] ~= 'running' or r[2] ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'payload', ARGV[3], 'completed', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
