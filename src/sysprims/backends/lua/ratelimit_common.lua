-- Shared driver of the rate-limit scripts (sysprims.backends.redis_ratelimit).
-- Each ratelimit_<algorithm>.lua is inserted at the ALGORITHM marker below and the
-- result is loaded as one script per algorithm. It decides #KEYS requests in order
-- (serial semantics, repeats of a key included); each key's state is one hash,
-- read once and written back once per call, with an expiry.
--
-- KEYS[i]: the state hash of request i (a key may repeat).
-- ARGV[1]: limit   ARGV[2]: rate (buckets) or window seconds (windows)
-- ARGV[3]: expiry grace in seconds (added to the time until the state is fresh again)
-- ARGV[4]: '1' to return the first key's state row and the time used (decide)
-- ARGV[5]: 16 bytes per request, little-endian float64 pairs (now in seconds, cost);
--          a NaN time means "this server's TIME".
-- Returns a string of one '0'/'1' character per request, or with ARGV[4] == '1'
-- the list {bits, time used, row...} (numbers as '%.17g' strings: exact doubles).
--
-- State: field 's' of the hash packs the algorithm's numbers as little-endian
-- float64 (exact, and cheaper than decimal text), ending with t (the latest time
-- the key has seen) and x (its expiry target). A time earlier than t is raised to
-- it, so clients with skewed clocks never move a key back in time.
local LIMIT = tonumber(ARGV[1])
local P2 = tonumber(ARGV[2])
local GRACE = tonumber(ARGV[3])
local DETAILS = ARGV[4] == '1'
local BLOB = ARGV[5]
local N = #KEYS

local server_now = nil
local function clock(t)
  if t == t then
    return t
  end
  if server_now == nil then
    local r = redis.call('TIME')
    server_now = tonumber(r[1]) + tonumber(r[2]) / 1000000
  end
  return server_now
end

-- each algorithm defines:
--   SIZE: the byte length of field 's'
--   decode(key, s) -> state table (s: the packed field, SIZE bytes)
--   fresh(key, now) -> the state of a new key
--   step(st, now, cost) -> boolean (st.t is the previous time; the driver sets st.t = now after)
--   save(key, st): HSET of field 's' (x included) and of any other changed field
--   fresh_after(st, now) -> seconds until the state equals a fresh one
--   row(st) -> the state row of sysprims.ratelimit.algorithms, as a Lua list
--@ALGORITHM@

local states = {}
local bits = {}
local now = 0
local pos = 1
for i = 1, N do
  local k = KEYS[i]
  local t, cost
  t, cost, pos = struct.unpack('<dd', BLOB, pos)
  now = clock(t)
  local st = states[k]
  if st == nil then
    local s = redis.call('HGET', k, 's')
    if s and #s == SIZE then
      st = decode(k, s)
    else
      st = fresh(k, now)
    end
    states[k] = st
  end
  if now < st.t then
    now = st.t
  end
  bits[i] = step(st, now, cost) and '1' or '0'
  st.t = now
end

-- Write each key back once. Its expiry is the time until its state is fresh again
-- plus GRACE; x remembers the expiry target (in the limiter's time), so PEXPIRE
-- is sent only when the target has moved past x - GRACE / 2.
for k, st in pairs(states) do
  local target = st.t + fresh_after(st, st.t)
  local renew = not (st.x and target + GRACE * 0.5 <= st.x)
  if renew then
    st.x = target + GRACE
  end
  save(k, st)
  if renew then
    local ms = math.ceil((st.x - st.t) * 1000)
    if ms < 1 then
      ms = 1
    elseif ms > 70368744177664 then -- 2^46 ms, about 2,230 years
      ms = 70368744177664
    end
    redis.call('PEXPIRE', k, string.format('%d', ms))
  end
end

if DETAILS then
  local out = {table.concat(bits), string.format('%.17g', now)}
  for _, v in ipairs(row(states[KEYS[1]])) do
    out[#out + 1] = string.format('%.17g', v)
  end
  return out
end
return table.concat(bits)
