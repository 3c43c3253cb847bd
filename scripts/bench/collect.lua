-- wrk script for npm run bench:collect: POSTs a snippet page view, as sendBeacon sends it
-- (text/plain, an Origin header), from 1,000 rotating visitors with distinct paths.
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
wrk.headers["Origin"] = os.getenv("BENCH_ORIGIN") or "https://www.example.com"
local site = os.getenv("BENCH_SITE_KEY") or "site_bench_key_0123"

request = function()
  counter = counter + 1
  local visitor = string.format("benchvisitor%020d", counter % 1000)
  local body = string.format('{"site":"%s","visitor":"%s","type":"page_view","properties":{"path":"/docs/%d","title":"Docs","utm_source":"newsletter"}}', site, visitor, counter % 50)
  return wrk.format(nil, nil, nil, body)
end
