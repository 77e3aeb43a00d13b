-- Call next: pick the best waiting step for one counter and claim it, atomically.
--
-- This is Tessera's routing policy, the only copy of it: the live engine, the
-- wait forecast and the simulator all run this script (tessera/queue/routing.py
-- holds the weights).
-- Running inside Redis makes choosing and claiming one step, so no two
-- counters can ever get the same step and a counter never holds two.
--
-- KEYS[1]      hash: counter id -> JSON duty {state, services, languages, free_at, step}
-- KEYS[2..n]   sorted sets: the waiting steps of each service this counter serves now,
--              scored by the visit's arrival time (epoch seconds)
-- ARGV[1]      now (epoch seconds)
-- ARGV[2]      counter id
-- ARGV[3]      JSON {policy: {...weights...}, services: [[service id, target s, mean handling s], ...]}
--              with services in the order of KEYS[2..n]
--
-- Queue members are "step id|language|flags|appointment due", flags holding
-- "p" for a priority need. Returns a JSON object (see tessera/queue/live.py).

local now = tonumber(ARGV[1])
local counter_id = ARGV[2]
local request = cjson.decode(ARGV[3])
local policy = request.policy

local raw_duty = redis.call('HGET', KEYS[1], counter_id)
if not raw_duty then
  return cjson.encode({status = 'not_open'})
end
local duty = cjson.decode(raw_duty)
if duty.state == 'busy' then
  return cjson.encode({status = 'busy', step = duty.step})
end
if duty.state ~= 'open' then
  return cjson.encode({status = 'not_open'})
end

local function as_set(list)
  local set = {}
  for _, item in ipairs(list) do set[tostring(item)] = true end
  return set
end

local speaks = as_set(duty.languages)

-- Other counters on duty, read once: who else serves what, in which languages,
-- and when each is expected to be free (nil once a counter is past its expected
-- time: how much longer it takes is then anyone's guess, so nobody waits for it).
local others = {}
local all_duties = redis.call('HGETALL', KEYS[1])
for index = 1, #all_duties, 2 do
  if all_duties[index] ~= counter_id then
    local other = cjson.decode(all_duties[index + 1])
    if other.state == 'open' or other.state == 'busy' then
      local free_in = 0
      if other.state == 'busy' then
        free_in = (other.free_at or now) - now
        if free_in < 0 then free_in = nil end
      end
      table.insert(others, {services = as_set(other.services), languages = as_set(other.languages),
                            free_in = free_in})
    end
  end
end

-- The language boost only where it can change who serves the visitor: when
-- another counter on duty (open or busy) serves the service without speaking
-- the language. Where every one of them speaks it too, or where this counter
-- is alone with the service (the others closed or paused), the boost would only
-- reorder visitors by language, the site language first: so not there, unless
-- the policy's language_boost_when_alone says so (the simulator compares both).
local boost_cache = {}
local function language_boost_applies(service, language)
  local cache_key = service .. '|' .. language
  if boost_cache[cache_key] == nil then
    local applies, colleagues = false, 0
    for _, other in ipairs(others) do
      if other.services[service] then
        colleagues = colleagues + 1
        if not other.languages[language] then applies = true end
      end
    end
    boost_cache[cache_key] = applies
      or (colleagues == 0 and policy.language_boost_when_alone == true)
  end
  return boost_cache[cache_key]
end

-- A service no other counter on duty serves: its visitors can only be served
-- here, while the others' visitors can also be called elsewhere.
local only_here_cache = {}
local function only_here(service)
  if only_here_cache[service] == nil then
    local alone = true
    for _, other in ipairs(others) do
      if other.services[service] then alone = false end
    end
    only_here_cache[service] = alone
  end
  return only_here_cache[service]
end

local candidates = {}
for queue_index = 2, #KEYS do
  local service = request.services[queue_index - 1]
  local service_id, target, mean = tostring(service[1]), service[2], service[3]
  local entries = redis.call('ZRANGE', KEYS[queue_index], 0, policy.scan - 1, 'WITHSCORES')
  for index = 1, #entries, 2 do
    local member = entries[index]
    local arrival = tonumber(entries[index + 1])
    local _, _, language, flags, due = string.find(member, '^[^|]+|([^|]*)|([^|]*)|([^|]*)$')
    local waited = now - arrival
    local score = waited
    if string.find(flags, 'p', 1, true) then score = score + policy.priority_boost end
    local due_at = tonumber(due) or 0
    if due_at > 0 and now >= due_at - policy.appointment_window then
      score = score + policy.appointment_boost
    end
    local matches = speaks[language] or false
    if matches and language_boost_applies(service_id, language) then
      score = score + policy.language_boost
    end
    if only_here(service_id) then score = score + (policy.specialist_boost or 0) end
    -- Urgency grows from urgency_from of the target up to urgency_until of it
    -- (0: without end), then stays: a step already past its target gains
    -- nothing more by urgency over one that can still be served within it.
    local urgent_from = policy.urgency_from * target
    local urgent_waited = waited
    local until_fraction = policy.urgency_until or 0
    if until_fraction > 0 and urgent_waited > until_fraction * target then
      urgent_waited = until_fraction * target
    end
    if urgent_waited > urgent_from then
      score = score + policy.urgency_weight * (urgent_waited - urgent_from)
    end
    table.insert(candidates, {member = member, arrival = arrival, score = score,
                              key = KEYS[queue_index], service = service_id, mean = mean,
                              target = target, waited = waited, language = language,
                              matches = matches})
  end
end
-- Best first; ties go to the earlier arrival.
table.sort(candidates, function(a, b)
  if a.score ~= b.score then return a.score > b.score end
  return a.arrival < b.arrival
end)

-- A short, bounded wait for a colleague who speaks the visitor's language and
-- will be free soon, instead of serving them here without a shared language.
-- Going down the list, each held step is promised to the speaker who can start
-- it soonest, and adds its mean handling to what that speaker has been
-- promised: a colleague about to be free can take one visitor, not five, and
-- a step they will not reach in time is served here instead.
-- A hold costs little while this counter serves someone else meanwhile; if
-- every candidate is held, it would stand idle and the held visitor waits the
-- whole hold for nothing else gained, which on a lightly loaded day is a large
-- share of a small wait. So then only holds of up to hold_idle_horizon stand,
-- and the counter serves the first step held for longer (0: no such limit).
local promised = {}
for index, other in ipairs(others) do promised[index] = other.free_in end
local idle_horizon = policy.hold_idle_horizon or 0
local best, held, retry_after, first_long_hold = nil, 0, nil, nil
for _, candidate in ipairs(candidates) do
  local hold = false
  local limit = policy.hold_fraction * candidate.target
  if limit > 0 and not candidate.matches and candidate.waited < limit then
    local speaker
    for index, other in ipairs(others) do
      local starts_in = promised[index]
      if starts_in ~= nil and other.services[candidate.service]
          and other.languages[candidate.language]
          and starts_in <= policy.hold_horizon and candidate.waited + starts_in <= limit
          and (speaker == nil or starts_in < promised[speaker]) then
        speaker = index
      end
    end
    if speaker ~= nil then
      if first_long_hold == nil and idle_horizon > 0 and promised[speaker] > idle_horizon then
        first_long_hold = candidate
      end
      hold = true
      held = held + 1
      local free_in = others[speaker].free_in
      if retry_after == nil or free_in < retry_after then retry_after = free_in end
      promised[speaker] = promised[speaker] + candidate.mean
    end
  end
  if not hold and best == nil then best = candidate end
end

if best == nil and first_long_hold ~= nil then
  best = first_long_hold
  held = held - 1
end
if best == nil then
  return cjson.encode({status = 'empty', held = held, retry_after = retry_after})
end

redis.call('ZREM', best.key, best.member)
local step_id = string.match(best.member, '^([^|]+)')
duty.state = 'busy'
duty.step = step_id
duty.free_at = now + best.mean
redis.call('HSET', KEYS[1], counter_id, cjson.encode(duty))
return cjson.encode({status = 'called', member = best.member, service = best.service,
                     step = step_id, held = held})
