-- wrk script: each request completes a new (learner, lesson) pair with a fresh UUID.
-- Arguments: a file of learner tokens (one per line), the number of lessons, threads,
-- and the first lesson number (so that runs on one database use lessons of their own).
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  tokens = {}
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  lessons = tonumber(args[2])
  threads = tonumber(args[3])
  first_lesson = tonumber(args[4])
  counter = 0
  math.randomseed(os.time() + id * 7919)
end

local function uuid4()
  return (("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"):gsub("[xy]", function(c)
    return string.format("%x", c == "x" and math.random(0, 15) or math.random(8, 11))
  end))
end

function request()
  local k = counter * threads + id
  counter = counter + 1
  local learner = k % #tokens
  local lesson = first_lesson + math.floor(k / #tokens) % lessons
  local body = '{"completion_id":"' .. uuid4() .. '","lesson_id":"b' .. lesson .. '"}'
  return wrk.format("POST", "/api/completions", {
    ["Authorization"] = "Bearer " .. tokens[learner + 1],
    ["Content-Type"] = "application/json",
  }, body)
end
