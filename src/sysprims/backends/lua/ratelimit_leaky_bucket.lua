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

local function step(st, now, cost)
  local level = math.max(0.0, st.a - (now - st.t) * P2)
  if level + cost <= LIMIT then
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
