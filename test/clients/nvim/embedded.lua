-- Headless neovim (0.7+) on an Ansible playbook with libvirt XML in `xml: |` blocks, as an LSP client
-- of dist/server.js over stdio. Run by test/clients/neovimEmbedded.test.ts:
--   LV_SERVER=dist/server.js LV_OUT=out.json nvim --headless -u embedded.lua playbook.yml
-- Records the diagnostics, completion at the broken value, applies the server's quick fix to the
-- buffer (a workspace edit on the host file) and waits for the diagnostic to go.
-- Shared helpers: common.lua next to this file.
local c = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'common.lua')
local result, first_result = c.result, c.first_result

c.on_filetype('yaml', function(buf)
  c.start(buf, { 'node', c.server, '--stdio' })
  local uri = vim.uri_from_bufnr(buf)
  result.filetype = vim.bo[buf].filetype
  result.diagnostics_arrived = vim.wait(15000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
  result.diagnostics = {}
  local lsp_diags = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    local lsp = d.user_data and d.user_data.lsp or {}
    -- 0.7 keeps only some LSP fields in user_data: rebuild the diagnostic the server sent.
    table.insert(lsp_diags, { range = { start = { line = d.lnum, character = d.col },
      ['end'] = { line = d.end_lnum, character = d.end_col } }, message = d.message, code = lsp.code or d.code,
      source = d.source, severity = d.severity, data = lsp.data })
    table.insert(result.diagnostics, { lnum = d.lnum, col = d.col, end_col = d.end_col, message = d.message, code = lsp.code or d.code })
  end
  if #lsp_diags == 0 then return end
  local d = lsp_diags[1]

  local comp = first_result(vim.lsp.buf_request_sync(buf, 'textDocument/completion',
    { textDocument = { uri = uri }, position = d.range.start }, 5000))
  result.completion = {}
  for _, it in ipairs(comp and (comp.items or comp) or {}) do table.insert(result.completion, it.label) end

  local actions = first_result(vim.lsp.buf_request_sync(buf, 'textDocument/codeAction',
    { textDocument = { uri = uri }, range = d.range, context = { diagnostics = { d } } }, 5000)) or {}
  result.actions = {}
  for _, a in ipairs(actions) do
    table.insert(result.actions, a.title)
    if not result.applied and a.title:find('qcow2', 1, true) and a.edit then
      vim.lsp.util.apply_workspace_edit(a.edit, 'utf-16')
      result.applied = a.title
    end
  end
  result.line_after = vim.api.nvim_buf_get_lines(buf, d.range.start.line, d.range.start.line + 1, false)[1]
  result.fixed = vim.wait(10000, function() return #vim.diagnostic.get(buf) == 0 end, 20)
end)
