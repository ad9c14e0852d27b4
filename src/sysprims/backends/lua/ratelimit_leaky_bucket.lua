-- Leaky bucket (as a meter): state {a = level, t = last leak time, x}; a new key is empty.
-- LIMIT = capacity, P2 = leak rate (units per second).
local SIZE = 24

local function decode(key, s)
  local a, t, x = struct.unpack('<ddd', s)
  return {a = a, t = t, x = x}
end

local function fresh(key, now)
  return {a = 0.0, t = now}
end

-- A request due within the slack of sysprims.ratelimit.algorithms.bucket_slack
-- passes (the level may exceed the capacity by it); the same float operations in
-- the same order as the memory backend.
local SLACK_REL = 2 ^ -50

local function step(st, now, cost)
  local level = math.max(0.0, st.a - (now - st.t) * P2)
  if cost <= LIMIT and cost <= (LIMIT + ((1e-9 + math.abs(now) * SLACK_REL) * P2 + LIMIT * SLACK_REL)) - level then
    st.a = level + cost
    return true
  end
  st.a = level
  return false
end

local function save(key, st)
  redis.call('HSET', key, 's', struct.pack('<ddd', st.a, st.t, st.x))
end

local function fresh_after(st, now)
  return st.a / P2
end

local function row(st)
  return {st.a, st.t}
end
