std = "lua54"
max_line_length = 100
files["spec/**/*.lua"].std = "+busted"
files["spec/fixtures/state_probe.lua"].globals = { "probe_global" }
exclude_files = { "build/**", "spec/fixtures/syntax_error.lua" }
