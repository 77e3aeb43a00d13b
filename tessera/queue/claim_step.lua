-- Claim one named step for one counter, atomically: the call of a chosen ticket
-- (from a desk's waiting list) and of a step transferred to this desk.
--
-- Like call_next.lua it removes the step from where it waits and sets the desk's
-- duty in one script, so two desks never both get it: whoever removes the member
-- first has it, the other is told it is gone.
--
-- KEYS[1]  hash: counter id -> JSON duty (see call_next.lua)
-- KEYS[2]  sorted set the step waits in: its service queue, or the desk's reserved steps
-- ARGV[1]  now (epoch seconds)
-- ARGV[2]  counter id
-- ARGV[3]  the member to claim, or "" for the oldest of KEYS[2]
--
-- Returns JSON {status = called | empty | gone | busy | not_open, step, member}.

local counter_id = ARGV[2]
local raw_duty = redis.call('HGET', KEYS[1], counter_id)
local duty = raw_duty and cjson.decode(raw_duty)
-- Only an open desk holding nothing may claim (as in call_next.lua).
if not duty or duty.state ~= 'open' then
  local busy = duty and duty.state == 'busy'
  return cjson.encode({status = busy and 'busy' or 'not_open', step = busy and duty.step or nil})
end

local member = ARGV[3]
if member == '' then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #oldest == 0 then
    return cjson.encode({status = 'empty'})
  end
  member = oldest[1]
end
if redis.call('ZREM', KEYS[2], member) == 0 then
  return cjson.encode({status = 'gone'})
end

local step_id = string.match(member, '^([^|]+)')
duty.state = 'busy'
duty.step = step_id
-- The engine writes the expected end from SQL right after the claim.
duty.free_at = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], counter_id, cjson.encode(duty))
return cjson.encode({status = 'called', step = step_id, member = member})
