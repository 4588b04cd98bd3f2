-- What both headless neovim scripts (init.lua, embedded.lua) share: the result table written as
-- JSON to LV_OUT, the first answer of a buf_request_sync, the server started on a buffer, and the
-- FileType hook that runs a script's body once, records any error, and never lets a run hang.
local M = { server = os.getenv('LV_SERVER'), out = os.getenv('LV_OUT'), result = { errors = {} } }

function M.finish()
  local f = io.open(M.out, 'w')
  f:write(vim.fn.json_encode(M.result))
  f:close()
  vim.cmd('qa!')
end

function M.first_result(responses)
  for _, r in pairs(responses or {}) do
    if r.error then table.insert(M.result.errors, vim.inspect(r.error)) end
    if r.result ~= nil then return r.result end
  end
  return nil
end

-- dist/server.js over stdio as the client of `buf`; `opts` adds to the start_client config.
function M.start(buf, cmd, opts)
  local config = { name = 'libvirt-volume', cmd = cmd, root_dir = vim.fn.getcwd() }
  for k, v in pairs(opts or {}) do config[k] = v end
  local id = vim.lsp.start_client(config)
  vim.lsp.buf_attach_client(buf, id)
  return id
end

-- Runs body(buf) once, on the first buffer of `filetype`, then writes the result and quits.
function M.on_filetype(filetype, body)
  vim.api.nvim_create_autocmd('FileType', { pattern = filetype, once = true, callback = function(args)
    local ok, err = pcall(body, args.buf)
    if not ok then table.insert(M.result.errors, tostring(err)) end
    M.finish()
  end })
  vim.defer_fn(function() table.insert(M.result.errors, 'timeout'); M.finish() end, 90000)
end

return M
