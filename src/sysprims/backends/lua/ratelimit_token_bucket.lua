-- Token bucket: state {a = tokens, t = last refill time, x}; a new key is full.
-- LIMIT = capacity, P2 = refill rate (tokens per second).
local SIZE = 24

local function decode(key, s)
  local a, t, x = struct.unpack('<ddd', s)
  return {a = a, t = t, x = x}
end

local function fresh(key, now)
  return {a = LIMIT, t = now}
end

-- A request due within the slack of sysprims.ratelimit.algorithms.bucket_slack
-- passes and owes the difference (tokens may go that far below 0); the same
-- float operations in the same order as the memory backend.
local SLACK_REL = 2 ^ -50

local function step(st, now, cost)
  local tokens = math.min(LIMIT, st.a + (now - st.t) * P2)
  if cost <= LIMIT and cost <= tokens + ((1e-9 + math.abs(now) * SLACK_REL) * P2 + LIMIT * SLACK_REL) then
    st.a = tokens - cost
    return true
  end
  st.a = tokens
  return false
end

local function save(key, st)
  redis.call('HSET', key, 's', struct.pack('<ddd', st.a, st.t, st.x))
end

local function fresh_after(st, now)
  return (LIMIT - st.a) / P2
end

local function row(st)
  return {st.a, st.t}
end
