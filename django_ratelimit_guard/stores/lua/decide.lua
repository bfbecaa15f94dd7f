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
--
-- This runs on every request, so it is written for Redis's Lua (bench/instructions.py counts it):
-- one pass when there is one hit (its write cannot be undone by another hit's rejection); numbers
-- from ARGV and from our own stored fields converted with `+ 0` (no function call: tonumber
-- costs twice as much); pending writes of several hits in one flat table; one closure.

local call, floor, ceil = redis.call, math.floor, math.ceil
local argv, keys = ARGV, KEYS

local now
if argv[1] ~= '' then
  now = argv[1] + 0
else
  local t = call('TIME')
  now = t[1] * 1000 + floor(t[2] / 1000)
end
local n = #keys
local counting = argv[2] == '1'
local direct = counting and n == 1  -- write at once: nothing else can reject this request

-- kind: 'c' count only (same window), 'tb', 'sw', 'fw'
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

-- Several hits: six slots per write, applied if nothing rejects the request. Tables are built by
-- constructors sized for up to three hits: growing them slot by slot reallocates each time.
local pending, out
if n > 1 then
  pending = {false, false, false, false, false, false, false, false, false,
             false, false, false, false, false, false, false, false, false}
  if n == 2 then out = {0, 0, 0, 0, 0, 0} elseif n == 3 then out = {0, 0, 0, 0, 0, 0, 0, 0, 0} else out = {} end
end
local np = 0
local rejected = false

for i = 1, n do
  local base = 3 + (i - 1) * 5
  local alg = argv[base]
  local limit = argv[base + 1] + 0
  local W = argv[base + 2] + 0
  local cost = argv[base + 3] + 0
  local key = keys[i]
  local remaining, reset, retry
  local kind, a, b, c, d

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
      if reset < 1 then b = 1 else b = reset end
      kind, a = 'tb', string.format('%.17g', new_tat)
    else
      remaining = floor((W + T * 0.5 - (tat - now)) / T)
      if remaining < 0 then remaining = 0 end
      reset = ceil(tat - now)
      retry = ceil(new_tat - now - W - T * 0.5)
      if retry < 1 then retry = 1 end
    end
  else
    local w = floor(now / W)
    local rem = W - (now - w * W)
    local sw = alg == 'sw'
    local stored
    if sw then stored = call('HMGET', key, 'w', 'c', 'p') else stored = call('HMGET', key, 'w', 'c') end
    local w0 = stored[1]
    if w0 then w0 = w0 + 0 end
    local cur, prev = 0, 0
    if w0 == w then
      if stored[2] then cur = stored[2] + 0 end
      if sw and stored[3] then prev = stored[3] + 0 end
    elseif sw and w0 == w - 1 then
      if stored[2] then prev = stored[2] + 0 end
    end
    local est = cur
    if sw then est = ceil(prev * rem / W) + cur end
    reset = rem
    if est + cost <= limit then
      remaining = limit - est - cost
      retry = 0
      if w0 == w then
        -- Same window: only the count changes. The expiry set when this window was first
        -- written is already right, (w + 2) * W for sw and (w + 1) * W for fw: no PEXPIRE.
        kind, a = 'c', cur + cost
      elseif sw then
        kind, a, b, c, d = 'sw', w, cur + cost, prev, W + rem
      else
        kind, a, b, c, d = 'fw', w, cur + cost, 0, rem
      end
    else
      remaining = limit - est
      if remaining < 0 then remaining = 0 end
      if cur + cost <= limit then
        retry = ceil(rem - (limit - cur - cost) * W / prev)
      elseif sw and cost <= limit then
        local more = ceil(W - (limit - cost) * W / cur)
        if more < 0 then more = 0 end
        retry = rem + more
      else
        retry = rem
      end
      if retry < 1 then retry = 1 end
    end
  end

  if retry ~= 0 then
    if argv[base + 4] == '1' then rejected = true end
  elseif counting then
    if direct then
      write(kind, key, a, b, c, d)
    else
      pending[np + 1], pending[np + 2], pending[np + 3] = kind, key, a
      pending[np + 4], pending[np + 5], pending[np + 6] = b, c, d
      np = np + 6
    end
  end
  if n == 1 then return {remaining, reset, retry} end
  out[3 * i - 2], out[3 * i - 1], out[3 * i] = remaining, reset, retry
end

if not rejected then
  for j = 1, np, 6 do
    write(pending[j], pending[j + 1], pending[j + 2], pending[j + 3], pending[j + 4], pending[j + 5])
  end
end

return out
