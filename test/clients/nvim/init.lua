-- Headless neovim (0.7+) as an LSP client of dist/server.js over stdio. Run by
-- test/clients/neovim.test.ts:  LV_SERVER=dist/server.js LV_OUT=out.json nvim --headless -u init.lua FILE.xml
-- It waits for diagnostics, asks for completion and hover, optionally runs the Create Volume
-- command (LV_CREATE_OUTPUT / LV_PASSPHRASE), writes what it saw as JSON and quits.
-- The same calls are what a user's config does (README "neovim").
local server = os.getenv('LV_SERVER')
local out = os.getenv('LV_OUT')
local result = { errors = {} }

local function finish()
  local f = io.open(out, 'w')
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd('qa!')
end

local function pos_of(buf, needle, delta)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    local s = line:find(needle, 1, true)
    if s then return { line = i - 1, character = s - 1 + delta } end
  end
  table.insert(result.errors, 'not found: ' .. needle)
  return { line = 0, character = 0 }
end

local function first_result(responses)
  for _, r in pairs(responses or {}) do
    if r.error then table.insert(result.errors, vim.inspect(r.error)) end
    if r.result ~= nil then return r.result end
  end
  return nil
end

vim.api.nvim_create_autocmd('FileType', { pattern = 'xml', once = true, callback = function(args)
  local ok, err = pcall(function()
    local buf = args.buf
    local t0 = vim.loop.hrtime()
    local id = vim.lsp.start_client({
      name = 'libvirt-volume',
      cmd = { 'node', '--max-semi-space-size=64', server, '--stdio' },
      root_dir = vim.fn.getcwd(),
      settings = { libvirtVolume = { libvirtVersion = os.getenv('LV_LIBVIRT_VERSION') or '' } },
    })
    vim.lsp.buf_attach_client(buf, id)
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
      vim.wait(15000, function() local c = vim.lsp.get_client_by_id(id); return c ~= nil and c.server_capabilities ~= nil end, 20)
      -- What a user maps to a key: the server's Create Volume command (README).
      local r = vim.lsp.buf_request_sync(buf, 'workspace/executeCommand', {
        command = 'libvirtVolume.createVolume',
        arguments = { { uri = uri, output = output, passphrase = os.getenv('LV_PASSPHRASE'), writeSecretXml = true, iterTimeMs = 10 } },
      }, 60000)
      result.create = first_result(r) or vim.NIL
    end
    result.total_ms = (vim.loop.hrtime() - t0) / 1e6
  end)
  if not ok then table.insert(result.errors, tostring(err)) end
  finish()
end })

-- Never hang a test run.
vim.defer_fn(function() table.insert(result.errors, 'timeout'); finish() end, 90000)
