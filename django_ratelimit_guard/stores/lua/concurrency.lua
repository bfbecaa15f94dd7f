-- Concurrency slots (issue #15): per (client, policy) a sorted set of lease id -> expiry (ms).
--
-- KEYS[i]   the slot sets of one request (one client: they share a hash tag)
-- ARGV[1]   "acquire" or "release"
-- ARGV[2]   the request's lease id (random, unique per request)
-- acquire:  per key i, ARGV[3i] limit, ARGV[3i + 1] lease timeout in ms, ARGV[3i + 2] block ("1" | "0")
--
-- acquire returns {granted, in_flight_1, room_1, ..., in_flight_n, room_n}: granted is 1 when the
-- lease was added to every set whose limit leaves room (a full shadow-mode set, block "0", is
-- skipped and does not refuse), 0 when a full blocking set refused the request — then no set was
-- touched (all or nothing). in_flight_i counts the leases of set i after the call; room_i is 1
-- when set i had a free slot.
-- release removes the lease from every set and returns how many it removed.
--
-- Expired leases (a worker died holding them) are dropped before counting, by the server's
-- clock, so no app server's clock skew matters; each set expires with its newest lease.

local call, tonumber = redis.call, tonumber
local n = #KEYS
local lease = ARGV[2]

if ARGV[1] == 'release' then
  local removed = 0
  for i = 1, n do removed = removed + call('ZREM', KEYS[i], lease) end
  return removed
end

local t = call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {1}
for i = 1, n do
  local key = KEYS[i]
  call('ZREMRANGEBYSCORE', key, '-inf', now)
  local held = call('ZCARD', key)
  local room = 0
  if held < tonumber(ARGV[3 * i]) then room = 1 elseif ARGV[3 * i + 2] == '1' then out[1] = 0 end
  out[2 * i], out[2 * i + 1] = held, room
end
if out[1] == 1 then
  for i = 1, n do
    if out[2 * i + 1] == 1 then
      local timeout = tonumber(ARGV[3 * i + 1])
      call('ZADD', KEYS[i], now + timeout, lease)
      call('PEXPIRE', KEYS[i], timeout)
      out[2 * i] = out[2 * i] + 1
    end
  end
end
return out
