-- Decide every rate-limit hit of one request atomically, in one round trip.
--
-- KEYS[i]   the storage key of hit i (all of one request share a hash tag per client)
-- ARGV[1]   "now" in milliseconds, or "" to use the Redis server clock (app-server skew is moot)
-- ARGV[2]   "1" to count the hits, "0" to peek without counting
-- ARGV[3 + 5(i-1) ...]  per hit: algorithm ("fw" | "sw" | "tb"), limit, window_ms, cost, block ("1" | "0")
--
-- Returns, per hit, {allowed (1/0), remaining, reset_ms, retry_ms}, flattened, then now_ms.
-- A request is all-or-nothing: if any blocking hit is rejected, nothing is counted.
-- The arithmetic is mirrored operation for operation in algorithms.py (IEEE doubles in both),
-- and a differential test proves that the two decide every sequence alike.

local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local counting = ARGV[2] == '1'

local out = {}
local writes = {}
local rejected = false

for i = 1, #KEYS do
  local base = 2 + (i - 1) * 5
  local alg = ARGV[base + 1]
  local limit = tonumber(ARGV[base + 2])
  local W = tonumber(ARGV[base + 3])
  local cost = tonumber(ARGV[base + 4])
  local block = ARGV[base + 5] == '1'
  local key = KEYS[i]
  local allowed, remaining, reset, retry

  if alg == 'tb' then
    local T = W / limit
    local tat = tonumber(redis.call('GET', key) or '') or now
    if tat < now then tat = now end
    local new_tat = tat + T * cost
    local room = W + T * 0.5 - (new_tat - now)
    if room >= 0 then
      allowed = true
      remaining = math.floor(room / T)
      reset = math.ceil(new_tat - now)
      retry = 0
      writes[#writes + 1] = {'tb', key, string.format('%.17g', new_tat), math.max(1, reset)}
    else
      allowed = false
      remaining = math.max(0, math.floor((W + T * 0.5 - (tat - now)) / T))
      reset = math.ceil(tat - now)
      retry = math.max(1, math.ceil(new_tat - now - W - T * 0.5))
    end
  else
    local w = math.floor(now / W)
    local elapsed = now - w * W
    local rem = W - elapsed
    local stored = redis.call('HMGET', key, 'w', 'c', 'p')
    local w0 = tonumber(stored[1])
    local cur, prev = 0, 0
    if w0 == w then
      cur = tonumber(stored[2]) or 0
      prev = tonumber(stored[3]) or 0
    elseif w0 == w - 1 then
      prev = tonumber(stored[2]) or 0
    end
    local est = cur
    if alg == 'sw' then
      est = math.ceil(prev * rem / W) + cur
    else
      prev = 0
    end
    reset = rem
    if est + cost <= limit then
      allowed = true
      remaining = limit - est - cost
      retry = 0
      if w0 == w then
        -- Same window: only the count changes. The expiry set when this window was first
        -- written is already right, (w + 2) * W for sw and (w + 1) * W for fw, so no PEXPIRE.
        writes[#writes + 1] = {'c', key, cur + cost}
      else
        local ttl = rem
        if alg == 'sw' then ttl = W + rem end
        writes[#writes + 1] = {alg, key, w, cur + cost, prev, ttl}
      end
    else
      allowed = false
      remaining = math.max(0, limit - est)
      if cur + cost <= limit then
        retry = math.ceil(rem - (limit - cur - cost) * W / prev)
      elseif alg == 'sw' and cost <= limit then
        retry = rem + math.max(0, math.ceil(W - (limit - cost) * W / (cur)))
      else
        retry = rem
      end
      retry = math.max(1, retry)
    end
  end

  if block and not allowed then rejected = true end
  out[#out + 1] = allowed and 1 or 0
  out[#out + 1] = remaining
  out[#out + 1] = reset
  out[#out + 1] = retry
end

if counting and not rejected then
  for _, wr in ipairs(writes) do
    if wr[1] == 'c' then
      redis.call('HSET', wr[2], 'c', wr[3])
    elseif wr[1] == 'tb' then
      redis.call('SET', wr[2], wr[3], 'PX', wr[4])
    elseif wr[1] == 'sw' then
      redis.call('HSET', wr[2], 'w', wr[3], 'c', wr[4], 'p', wr[5])
      redis.call('PEXPIRE', wr[2], wr[6])
    else
      redis.call('HSET', wr[2], 'w', wr[3], 'c', wr[4])
      redis.call('PEXPIRE', wr[2], wr[6])
    end
  end
end

out[#out + 1] = now
return out
