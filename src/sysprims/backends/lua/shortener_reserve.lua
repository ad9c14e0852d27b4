-- Reserve n consecutive counter values. KEYS[1]=counter  ARGV[1]=n  ARGV[2]=start
-- Returns the first reserved value.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[2])
end
local n = tonumber(ARGV[1])
return redis.call('INCRBY', KEYS[1], n) - n
