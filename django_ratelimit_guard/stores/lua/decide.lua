-- Decide every rate-limit hit of one request atomically, in one round trip.
--
-- KEYS[i]   the storage key of hit i (all of one request share a hash tag per client)
-- ARGV[1]   "now" in milliseconds, or "" to use the Redis server clock (app-server skew is moot)
-- ARGV[2]   "1" to count the hits, "0" to peek without counting
-- ARGV[3 + 5(i-1) ...]  per hit: algorithm ("fw" | "sw" | "tb"), limit, window_ms, cost, block ("1" | "0")
--
-- Returns, per hit, {remaining, reset_ms, retry_ms}, flattened; a hit is allowed when its
-- retry_ms is 0 (a rejected hit's is at least 1).
-- A request is all-or-nothing: if any blocking hit is rejected, nothing is counted.
-- The arithmetic is mirrored operation for operation in algorithms.py (IEEE doubles in both),
-- and a differential test proves that the two decide every sequence alike.
-- This runs on every request: one pass when there is one hit (its write cannot be undone by
-- another hit's rejection), no per-hit closures.

local call, tonumber, floor, ceil, max = redis.call, tonumber, math.floor, math.ceil, math.max

local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = call('TIME')
  now = tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
end
local n = #KEYS
local counting = ARGV[2] == '1'
local direct = counting and n == 1  -- write at once: nothing else can reject this request

-- Pending writes, one {kind, key, a, b, c, d} each (kind: 'c' count only, 'tb', 'sw', 'fw'); a table
-- constructor costs Redis fewer instructions than six indexed stores (bench: callgrind).
local writes = {}
local nw = 0
local function write(kind, key, a, b, c, d)
  if kind == 'c' then
    call('HSET', key, 'c', a)
  elseif kind == 'tb' then
    call('SET', key, a, 'PX', b)
  elseif kind == 'sw' then
    call('HSET', key, 'w', a, 'c', b, 'p', c)
    call('PEXPIRE', key, d)
  else
    call('HSET', key, 'w', a, 'c', b)
    call('PEXPIRE', key, d)
  end
end
local function later(kind, key, a, b, c, d)
  nw = nw + 1
  writes[nw] = {kind, key, a, b, c, d}
end
local record = direct and write or later

local out = {}
local rejected = false

for i = 1, n do
  local base = 3 + (i - 1) * 5
  local alg = ARGV[base]
  local limit = tonumber(ARGV[base + 1])
  local W = tonumber(ARGV[base + 2])
  local cost = tonumber(ARGV[base + 3])
  local key = KEYS[i]
  local remaining, reset, retry

  if alg == 'tb' then
    local T = W / limit
    local tat = tonumber(call('GET', key) or '') or now
    if tat < now then tat = now end
    local new_tat = tat + T * cost
    local room = W + T * 0.5 - (new_tat - now)
    if room >= 0 then
      remaining = floor(room / T)
      reset = ceil(new_tat - now)
      retry = 0
      if counting then record('tb', key, string.format('%.17g', new_tat), max(1, reset)) end
    else
      remaining = max(0, floor((W + T * 0.5 - (tat - now)) / T))
      reset = ceil(tat - now)
      retry = max(1, ceil(new_tat - now - W - T * 0.5))
    end
  else
    local w = floor(now / W)
    local rem = W - (now - w * W)
    local sw = alg == 'sw'
    local stored
    if sw then stored = call('HMGET', key, 'w', 'c', 'p') else stored = call('HMGET', key, 'w', 'c') end
    local w0 = tonumber(stored[1])
    local cur, prev = 0, 0
    if w0 == w then
      cur = tonumber(stored[2]) or 0
      if sw then prev = tonumber(stored[3]) or 0 end
    elseif sw and w0 == w - 1 then
      prev = tonumber(stored[2]) or 0
    end
    local est = cur
    if sw then est = ceil(prev * rem / W) + cur end
    reset = rem
    if est + cost <= limit then
      remaining = limit - est - cost
      retry = 0
      if counting then
        if w0 == w then
          -- Same window: only the count changes. The expiry set when this window was first
          -- written is already right, (w + 2) * W for sw and (w + 1) * W for fw: no PEXPIRE.
          record('c', key, cur + cost)
        elseif sw then
          record('sw', key, w, cur + cost, prev, W + rem)
        else
          record('fw', key, w, cur + cost, 0, rem)
        end
      end
    else
      remaining = max(0, limit - est)
      if cur + cost <= limit then
        retry = ceil(rem - (limit - cur - cost) * W / prev)
      elseif sw and cost <= limit then
        retry = rem + max(0, ceil(W - (limit - cost) * W / cur))
      else
        retry = rem
      end
      retry = max(1, retry)
    end
  end

  if retry ~= 0 and ARGV[base + 4] == '1' then rejected = true end
  out[3 * i - 2], out[3 * i - 1], out[3 * i] = remaining, reset, retry
end

if not rejected then
  for j = 1, nw do
    local w = writes[j]
    write(w[1], w[2], w[3], w[4], w[5], w[6])
  end
end

return out
