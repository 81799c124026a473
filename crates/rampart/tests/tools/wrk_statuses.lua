-- Counts responses per status code and 429s that lack Retry-After, across
-- all of wrk's threads, and prints them after wrk's own summary as
--   status 200 1234
--   status 429 5678
--   limited_without_retry_after 0
-- Used by crates/rampart/tests/dos_ratelimit.rs.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  limited_without_retry_after = 0
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 429 then
    local found = false
    for name, _ in pairs(headers) do
      if string.lower(name) == "retry-after" then
        found = true
      end
    end
    if not found then
      limited_without_retry_after = limited_without_retry_after + 1
    end
  end
end

function done(summary, latency, requests)
  local totals = {}
  local missing = 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + n
    end
    missing = missing + thread:get("limited_without_retry_after")
  end
  for status, n in pairs(totals) do
    io.write(string.format("status %d %d\n", status, n))
  end
  io.write(string.format("limited_without_retry_after %d\n", missing))
end
