-- Argo CD health check for tunegate.dev/TrainingDataset.
-- Argo CD runs this with the object as the global `obj` and expects {status, message} back.
-- Written for Lua 5.1 (Argo CD's gopher-lua); tested with lua5.1 and lua5.4.
--   Healthy      Ready=True: validated, redacted, ready to upload.
--   Progressing  no status yet, status older than the spec, Ready=Unknown, or Ready=False with
--                reason WorkerRunning (a worker Job is reading the volume sources).
--   Degraded     Ready=False for any other reason (a source is missing or refused, the data is
--                invalid, redaction rejected it): a person has to act. The message says why.
local hs = {}

-- Ready=False reasons that mean "not yet" rather than "broken" (src/controller/dataset).
local progressing_reasons = {
  WorkerRunning = true,
}

local function condition(status, wanted)
  if status == nil or status.conditions == nil then return nil end
  for _, c in ipairs(status.conditions) do
    if c.type == wanted then return c end
  end
  return nil
end

local function describe(c)
  local reason = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    if reason ~= "" then return reason .. ": " .. c.message end
    return c.message
  end
  return reason
end

local status = obj.status
local generation = obj.metadata and obj.metadata.generation
if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for tunegate to report status"
  return hs
end
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for tunegate to process generation " .. tostring(generation)
  return hs
end

local ready = condition(status, "Ready")
if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = ready and describe(ready) or "Waiting for the Ready condition"
elseif ready.status == "True" then
  hs.status = "Healthy"
  if status.examples ~= nil then
    hs.message = tostring(status.examples) .. " examples ready"
  else
    hs.message = describe(ready)
  end
elseif progressing_reasons[ready.reason or ""] then
  hs.status = "Progressing"
  hs.message = describe(ready)
else
  hs.status = "Degraded"
  hs.message = describe(ready)
end
return hs
