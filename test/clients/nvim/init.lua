-- Headless neovim (0.7+) as an LSP client of dist/server.js over stdio. Run by
-- test/clients/neovim.test.ts:  LV_SERVER=dist/server.js LV_OUT=out.json nvim --headless -u init.lua FILE.xml
-- It waits for diagnostics, asks for completion and hover, optionally runs the Create Volume
-- command (LV_CREATE_OUTPUT / LV_PASSPHRASE), writes what it saw as JSON and quits.
-- The same calls are what a user's config does (README "neovim").
-- Shared helpers: common.lua next to this file.
local c = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'common.lua')
local result, first_result = c.result, c.first_result

local function pos_of(buf, needle, delta)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    local s = line:find(needle, 1, true)
    if s then return { line = i - 1, character = s - 1 + delta } end
  end
  table.insert(result.errors, 'not found: ' .. needle)
  return { line = 0, character = 0 }
end

c.on_filetype('xml', function(buf)
  local t0 = vim.loop.hrtime()
  local id = c.start(buf, { 'node', '--max-semi-space-size=64', c.server, '--stdio' },
    { settings = { libvirtVolume = { libvirtVersion = os.getenv('LV_LIBVIRT_VERSION') or '' } } })
  local output = os.getenv('LV_CREATE_OUTPUT')
  local uri = vim.uri_from_bufnr(buf)
  if not output then
    result.diagnostics_arrived = vim.wait(15000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
    result.diagnostics_ms = (vim.loop.hrtime() - t0) / 1e6
    result.diagnostics = {}
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      local lsp = d.user_data and d.user_data.lsp or {}
      table.insert(result.diagnostics, { lnum = d.lnum, col = d.col, end_col = d.end_col, severity = d.severity, message = d.message, code = lsp.code or d.code, source = d.source })
    end

    local comp = first_result(vim.lsp.buf_request_sync(buf, 'textDocument/completion',
      { textDocument = { uri = uri }, position = pos_of(buf, "type='qcow3'", 6) }, 5000))
    local items = comp and (comp.items or comp) or {}
    result.completion = {}
    for _, it in ipairs(items) do table.insert(result.completion, it.label) end

    local hover = first_result(vim.lsp.buf_request_sync(buf, 'textDocument/hover',
      { textDocument = { uri = uri }, position = pos_of(buf, "format='luks'", 9) }, 5000))
    result.hover = hover and hover.contents and (hover.contents.value or hover.contents) or vim.NIL

    -- An edit (didChange) that fixes the format: its diagnostic must go away.
    local p = pos_of(buf, 'qcow3', 0)
    vim.api.nvim_buf_set_text(buf, p.line, p.character, p.line, p.character + 5, { 'qcow2' })
    result.fixed_by_edit = vim.wait(10000, function()
      for _, d in ipairs(vim.diagnostic.get(buf)) do
        if d.message:find('qcow3', 1, true) then return false end
      end
      return true
    end, 20)
  end

  if output then
    -- The request needs the server's capabilities (a user's key press comes long after that).
    vim.wait(15000, function() local cl = vim.lsp.get_client_by_id(id); return cl ~= nil and cl.server_capabilities ~= nil end, 20)
    -- What a user maps to a key: the server's Create Volume command (README).
    local r = vim.lsp.buf_request_sync(buf, 'workspace/executeCommand', {
      command = 'libvirtVolume.createVolume',
      arguments = { { uri = uri, output = output, passphrase = os.getenv('LV_PASSPHRASE'), writeSecretXml = true, iterTimeMs = 10 } },
    }, 60000)
    result.create = first_result(r) or vim.NIL
  end
  result.total_ms = (vim.loop.hrtime() - t0) / 1e6
end)
