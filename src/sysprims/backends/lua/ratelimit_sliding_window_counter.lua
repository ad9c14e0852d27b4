-- Sliding window counter: state {a = window index, b = current count, c = previous
-- window's count, t = latest time, x}. LIMIT = max requests, P2 = window seconds W.
-- estimate = previous * (W - elapsed) / W + current; allowed iff estimate + cost <= LIMIT.
local SIZE = 40

local function decode(key, s)
  local a, b, c, t, x = struct.unpack('<ddddd', s)
  return {a = a, b = b, c = c, t = t, x = x}
end

local function fresh(key, now)
  return {a = math.floor(now / P2), b = 0.0, c = 0.0, t = now}
end

local function step(st, now, cost)
  local idx = math.floor(now / P2)
  if idx ~= st.a then
    if idx - st.a == 1 then  -- a difference: past 2^53 `st.a + 1` rounds
      st.c = st.b
    else
      st.c = 0.0
    end
    st.b = 0.0
    st.a = idx
  end
  local elapsed = now - idx * P2
  local estimate = st.c * ((P2 - elapsed) / P2) + st.b
  if estimate + cost <= LIMIT then
    st.b = st.b + cost
    return true
  end
  return false
end

local function save(key, st)
  redis.call('HSET', key, 's', struct.pack('<ddddd', st.a, st.b, st.c, st.t, st.x))
end

local function fresh_after(st, now)
  if st.b > 0 then
    return st.a * P2 + 2 * P2 - now
  elseif st.c > 0 then
    return st.a * P2 + P2 - now
  end
  return 0
end

local function row(st)
  return {st.a, st.b, st.c}
end
