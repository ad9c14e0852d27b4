-- Sliding window log as a bounded ring of the last L accepted timestamps.
-- State: field 's' = {n = entries (<= L), h = next ring slot, w = newest accepted
-- time, L = ring size, t = latest time, x}; ring slot i in field 'r<i>' (a packed
-- float64; unwritten slots read as 0). LIMIT = L = max requests, P2 = window
-- seconds W. A request of cost c is allowed iff the (L - c + 1)-th most recent
-- accepted timestamp is older than now - W. Only the slots a request reads or
-- writes are touched (O(cost) per request); a changed L starts the key afresh.
local L = math.floor(LIMIT)
local SIZE = 48

local function fresh(key, now)
  return {key = key, n = 0, h = 0, w = 0.0, t = now, ring = {}, dirty = {}}
end

local function decode(key, s)
  local n, h, w, size, t, x = struct.unpack('<dddddd', s)
  if size ~= L then
    redis.call('DEL', key)
    return fresh(key, t)
  end
  return {key = key, n = n, h = h, w = w, t = t, x = x, ring = {}, dirty = {}}
end

local function slot(st, i)
  local v = st.ring[i]
  if v == nil then
    local s = redis.call('HGET', st.key, 'r' .. i)
    v = s and struct.unpack('<d', s) or 0.0
    st.ring[i] = v
  end
  return v
end

local function step(st, now, cost)
  local c = math.floor(cost)
  if c > L then
    return false
  end
  if c == 0 then
    return true
  end
  local k = L - c + 1
  if st.n >= k and not (slot(st, (st.h - k) % L) < now - P2) then
    return false
  end
  for _ = 1, c do
    st.ring[st.h] = now
    st.dirty[st.h] = true
    st.h = (st.h + 1) % L
  end
  st.n = math.min(st.n + c, L)
  st.w = now
  return true
end

local function save(key, st)
  local args = {}
  for i, _ in pairs(st.dirty) do
    args[#args + 1] = 'r' .. i
    args[#args + 1] = struct.pack('<d', st.ring[i])
    if #args >= 4000 then -- stay far below Lua's unpack limit
      redis.call('HSET', key, unpack(args))
      args = {}
    end
  end
  args[#args + 1] = 's'
  args[#args + 1] = struct.pack('<dddddd', st.n, st.h, st.w, L, st.t, st.x)
  redis.call('HSET', key, unpack(args))
end

local function fresh_after(st, now)
  if st.n > 0 then
    return st.w + P2 - now -- st.w: the newest accepted timestamp
  end
  return 0
end

local function row(st)
  local stored = {}
  local all = redis.call('HGETALL', st.key)
  for j = 1, #all, 2 do
    if string.sub(all[j], 1, 1) == 'r' then
      stored[tonumber(string.sub(all[j], 2))] = struct.unpack('<d', all[j + 1])
    end
  end
  local out = {st.n, st.h}
  for i = 0, L - 1 do
    out[#out + 1] = st.ring[i] or stored[i] or 0.0
  end
  return out
end
