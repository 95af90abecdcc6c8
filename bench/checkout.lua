-- wrk script for bench/checkout.py: each request sells 5 random products at a random till, card payment (or a
-- gift card and a card, see BENCH_CARDS),
-- with a fresh Idempotency-Key. Settings come from the environment (set by checkout.py).
local token = os.getenv("BENCH_TOKEN")
-- API clients' scoped tokens ("thk_…") go as Bearer; older DRF token keys as Token.
local scheme = (token:sub(1, 4) == "thk_") and "Bearer " or "Token "
local pmin = tonumber(os.getenv("BENCH_PMIN"))
local pmax = tonumber(os.getenv("BENCH_PMAX"))
local registers = {}
for id in string.gmatch(os.getenv("BENCH_REGISTERS"), "%d+") do
  registers[#registers + 1] = tonumber(id)
end

-- With BENCH_CARDS (gift-card codes), each sale pays 5.00 with a random one of those cards and the rest by card.
local cards = {}
for code in string.gmatch(os.getenv("BENCH_CARDS") or "", "[%w]+") do
  cards[#cards + 1] = code
end

local counter = 0
local prefix = ""
local statuses = {}

function setup(thread)
  thread:set("thread_prefix", tostring(math.random(1, 2 ^ 30)))
end

function init(args)
  math.randomseed(os.time() + tonumber(thread_prefix))
  prefix = thread_prefix .. "-" .. tostring(os.time())
end

function request()
  counter = counter + 1
  local lines = {}
  for i = 1, 5 do
    lines[i] = string.format('{"product": %d, "quantity": "1"}', math.random(pmin, pmax))
  end
  local tenders = '[{"tender": "card"}]'
  if #cards > 0 then
    tenders = string.format('[{"tender": "gift_card", "amount": "5.00", "card": "%s"}, {"tender": "card"}]',
      cards[math.random(1, #cards)])
  end
  local body = string.format(
    '{"register": %d, "lines": [%s], "tenders": %s}',
    registers[math.random(1, #registers)], table.concat(lines, ", "), tenders)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = scheme .. token,
    ["Idempotency-Key"] = "bench-" .. prefix .. "-" .. counter,
  }
  return wrk.format("POST", "/api/v1/checkout/", headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
end
