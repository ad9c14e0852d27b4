-- Claim an idempotency key, or report the record that holds it.
-- KEYS[1]: the record (a hash)
-- ARGV[1]: now (seconds, caller's clock)   ARGV[2]: token   ARGV[3]: fingerprint ('' = none)
-- ARGV[4]: lock expiry (seconds, caller's clock)   ARGV[5]: lock lifetime in ms (Redis-side backstop)
-- Returns {'claimed'} or {state, fingerprint, payload, created_at, completed_at, expires_at}.
local r = redis.call('HMGET', KEYS[1], 'state', 'exp', 'fp', 'payload', 'created', 'completed')
if r[1] and tonumber(r[2]) > tonumber(ARGV[1]) then
  return {r[1], r[3] or '', r[4] or '', r[5] or '', r[6] or '', r[2]}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'running', 'exp', ARGV[4], 'fp', ARGV[3], 'token', ARGV[2], 'created', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'claimed'}
