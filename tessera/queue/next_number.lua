-- The next ticket sequence number for one site, service day and prefix.
--
-- KEYS[1]  the day's counter for this prefix
-- ARGV[1]  the highest sequence already in SQL, or '' when the caller has not read it
-- ARGV[2]  seconds the key lives (numbering restarts every local day)
--
-- Returns the next number, or false when the counter is missing (Redis was
-- flushed) and the caller must pass the floor from SQL, so that a flush never
-- hands out a number twice.
local floor = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil and floor == nil then
  return false
end
if floor ~= nil and (current == nil or current < floor) then
  redis.call('SET', KEYS[1], floor)
end
local number = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return number
