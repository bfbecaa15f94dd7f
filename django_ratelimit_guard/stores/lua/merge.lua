-- Merge one counter that a process took in memory during an outage into Redis, so that recovery
-- grants no fresh budget and a client blocked during the outage stays blocked.
--
-- KEYS[1]  the storage key (one key per call: a Redis Cluster routes each call by its hash tag)
-- ARGV[1]  algorithm: "fw" | "sw" | "tb"
-- ARGV[2]  fw/sw: the memory store's window index; tb: its theoretical arrival time (ms)
-- ARGV[3]  fw/sw: count in that window        ARGV[4]  sw: count in the window before
-- ARGV[5]  window_ms
--
-- Windows add up: Redis counted the hits before the outage, memory those during it. The token
-- bucket adds the memory's outstanding debt (TAT - now) on top of Redis's. Returns 1 if merged.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = KEYS[1]
local alg = ARGV[1]
local W = tonumber(ARGV[5])

if alg == 'tb' then
  local debt = tonumber(ARGV[2]) - now
  if debt <= 0 then return 0 end
  local tat = tonumber(redis.call('GET', key) or '') or now
  if tat < now then tat = now end
  local new_tat = tat + debt
  redis.call('SET', key, string.format('%.17g', new_tat), 'PX', math.max(1, math.ceil(new_tat - now)))
  return 1
end

local wm = tonumber(ARGV[2])
local cm = tonumber(ARGV[3])
local pm = tonumber(ARGV[4])
local stored = redis.call('HMGET', key, 'w', 'c', 'p')
local wr = tonumber(stored[1])
local cr = tonumber(stored[2]) or 0
local pr = tonumber(stored[3]) or 0
local w, c, p
if wr == nil or wr < wm - 1 then
  w, c, p = wm, cm, pm
elseif wr == wm - 1 then
  w, c, p = wm, cm, pm + cr
elseif wr == wm then
  w, c, p = wm, cm + cr, pm + pr
elseif wr == wm + 1 then
  w, c, p = wr, cr, pr + cm
else
  return 0
end

local ttl
if alg == 'sw' then
  ttl = (w + 2) * W - now
else
  ttl = (w + 1) * W - now
  p = 0
end
if ttl <= 0 then return 0 end
redis.call('HSET', key, 'w', w, 'c', c, 'p', p)
redis.call('PEXPIRE', key, ttl)
return 1
