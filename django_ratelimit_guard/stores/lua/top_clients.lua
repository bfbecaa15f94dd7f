-- Add a process's tally of limited clients to one time bucket of the "most limited" table.
--
-- KEYS[1]  the bucket's sorted set
-- ARGV[1]  the bucket's lifetime in seconds     ARGV[2]  its capacity
-- ARGV[3], ARGV[4], ...  member, count pairs
--
-- Space-Saving: a newcomer to a full set replaces the smallest member and inherits its count, so
-- the set never grows past its capacity and a heavy hitter always makes it in.
local cap = tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  local member, n = ARGV[i], tonumber(ARGV[i + 1])
  if redis.call('ZSCORE', KEYS[1], member) or redis.call('ZCARD', KEYS[1]) < cap then
    redis.call('ZINCRBY', KEYS[1], n, member)
  else
    local low = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    redis.call('ZREM', KEYS[1], low[1])
    redis.call('ZADD', KEYS[1], tonumber(low[2]) + n, member)
  end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 0
