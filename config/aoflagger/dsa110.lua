-- RFI detection strategy of dsa110-contimg for AOFlagger 3 (Lua strategy API).
--
-- DSA-110 groups are short (24 integrations of 12.9 s) and wide (768 channels of
-- 244 kHz), and calibrator groups carry a bright, smoothly varying source.  For each
-- polarization, on amplitudes:
--   repeat with decreasing thresholds:
--     fit the smooth time-frequency background with a Gaussian low-pass filter
--     (flagged samples excluded), take the residual, and flag it with SumThreshold
--     (both directions) and with per-channel and per-timestep RMS cuts;
--   finally widen the flags with the scale-invariant rank operator.
-- `sensitivity` scales every threshold (lower flags more).

local sensitivity = 1.0
local iterations = 3

function execute(input)
  input:flag_nans()
  for _, pol in ipairs(input:get_polarizations()) do
    local amp = input:convert_to_polarization(pol):convert_to_complex("amplitude")
    local original = amp:copy()
    for i = 1, iterations do
      local relax = 2.0 ^ (iterations - i)
      local background = amp:copy()
      aoflagger.low_pass_filter(background, 9, 9, 2.0, 2.0)
      local residual = original - background
      residual:set_mask(amp)
      aoflagger.sumthreshold(residual, sensitivity * relax, sensitivity * relax, true, true)
      aoflagger.threshold_channel_rms(residual, 3.0 * sensitivity * relax, true)
      aoflagger.threshold_timestep_rms(residual, 4.0 * sensitivity * relax)
      amp:set_mask(residual)
    end
    aoflagger.scale_invariant_rank_operator(amp, 0.2, 0.2)
    input:join_mask(amp)
  end
end
