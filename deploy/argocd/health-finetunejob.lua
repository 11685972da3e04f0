-- Argo CD health check for tunegate.dev/FineTuneJob.
-- Argo CD runs this with the object as the global `obj` and expects {status, message} back.
-- Written for Lua 5.1 (Argo CD's gopher-lua); tested with lua5.1 and lua5.4.
--   Suspended    spec.paused is true.
--   Healthy      Succeeded=True (the fine-tuned model exists), or Ready=True.
--   Degraded     Succeeded=False (the remote job failed or was cancelled), or Ready=False for a
--                reason that needs a person (CredentialsNotFound, DatasetNotFound, a source
--                refused, the provider refused the job, ...).
--   Progressing  no status yet, status older than the spec, or Ready=False while work is under
--                way: DatasetNotReady (the dataset is still being validated), Running, Paused at
--                the provider without spec.paused, DatasetChanged (re-validating, then retried).
local hs = {}

-- Ready=False reasons that mean "not yet" rather than "broken" (src/controller/finetune).
local progressing_reasons = {
  DatasetNotReady = true, Running = true, Paused = true, DatasetChanged = true,
}

-- The provider's own words for a finished job that did not succeed.
local failed_remote = { failed = true, cancelled = true }

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

if obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  hs.message = "Paused (spec.paused is true)"
  return hs
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

local remote = status.remote or {}
local succeeded = condition(status, "Succeeded")
local ready = condition(status, "Ready")

if succeeded ~= nil and succeeded.status == "True" then
  hs.status = "Healthy"
  if remote.fineTunedModel ~= nil then
    hs.message = "Fine-tuned model " .. remote.fineTunedModel
  else
    hs.message = describe(succeeded)
  end
elseif succeeded ~= nil and succeeded.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(succeeded)
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
elseif failed_remote[remote.status or ""] then
  hs.status = "Degraded"
  hs.message = "Remote job " .. remote.status
  if remote.error ~= nil and remote.error.code ~= nil then
    hs.message = hs.message .. ": " .. remote.error.code
  end
elseif ready ~= nil and ready.status == "False" and not progressing_reasons[ready.reason or ""] then
  hs.status = "Degraded"
  hs.message = describe(ready)
else
  hs.status = "Progressing"
  if ready ~= nil then
    hs.message = describe(ready)
  elseif remote.status ~= nil then
    hs.message = "Remote job " .. remote.status
  else
    hs.message = "In progress"
  end
end
return hs
