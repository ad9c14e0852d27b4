-- Fixed window: state {a = window index floor(t / W), b = count, t = latest time, x}.
-- LIMIT = max requests per window, P2 = window seconds W (windows aligned to the epoch).
local SIZE = 32

local function decode(key, s)
  local a, b, t, x = struct.unpack('<dddd', s)
  return {a = a, b = b, t = t, x = x}
end

local function fresh(key, now)
  return {a = math.floor(now / P2), b = 0.0, t = now}
end

local function step(st, now, cost)
  local idx = math.floor(now / P2)
  if idx ~= st.a then
    st.a = idx
    st.b = 0.0
  end
  if st.b + cost <= LIMIT then
    st.b = st.b + cost
    return true
  end
  return false
end

local function save(key, st)
  redis.call('HSET', key, 's', struct.pack('<dddd', st.a, st.b, st.t, st.x))
end

local function fresh_after(st, now)
  if st.b > 0 then
    return (st.a + 1) * P2 - now
  end
  return 0
end

local function row(st)
  return {st.a, st.b}
end
