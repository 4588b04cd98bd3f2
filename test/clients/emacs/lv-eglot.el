;;; lv-eglot.el --- emacs + eglot as an LSP client of dist/server.js (test/clients/emacs.test.ts)
; Debian's site-start activates elpa-eglot, so no -Q.
;; emacs --batch -q -l lv-eglot.el  with LV_SERVER, LV_FILE, LV_OUT (and LV_CREATE_OUTPUT, LV_PASSPHRASE)
;; The eglot-server-programs entry and the jsonrpc-request call are what README "emacs" shows.
(require 'eglot)
(require 'json)
(setq eglot-sync-connect t)
(add-to-list 'eglot-server-programs `(nxml-mode . ("node" "--max-semi-space-size=64" ,(getenv "LV_SERVER") "--stdio")))

(let* ((out (getenv "LV_OUT"))
       (t0 (float-time))
       (result (list)))
  (condition-case err
      (progn
        (find-file (getenv "LV_FILE"))
        ;; Files that embed libvirt XML (a playbook opens in a mode emacs picks, yaml-mode or not): the
        ;; same server for the buffer's major mode (README "emacs").
        (unless (eq major-mode 'nxml-mode)
          (add-to-list 'eglot-server-programs `(,major-mode . ("node" ,(getenv "LV_SERVER") "--stdio"))))
        (apply #'eglot (eglot--guess-contact))
        ;; A document with findings: wait for flymake to show them (a clean one has none to wait for).
        (let ((deadline (+ (float-time) (if (getenv "LV_CREATE_OUTPUT") 0 20))))
          (while (and (null (flymake-diagnostics)) (< (float-time) deadline))
            (accept-process-output nil 0.05)))
        (push (cons 'diagnostics_ms (round (* 1000 (- (float-time) t0)))) result)
        (push (cons 'diagnostics
                    (vconcat (mapcar (lambda (d)
                                       (list (cons 'line (line-number-at-pos (flymake-diagnostic-beg d)))
                                             (cons 'col (save-excursion (goto-char (flymake-diagnostic-beg d))
                                                                        (current-column)))
                                             (cons 'type (format "%s" (flymake-diagnostic-type d)))
                                             (cons 'text (flymake-diagnostic-text d))))
                                     (flymake-diagnostics))))
              result)
        ;; Create Volume from emacs: workspace/executeCommand with one argument object.
        (when (getenv "LV_CREATE_OUTPUT")
          (let ((r (jsonrpc-request (eglot-current-server) :workspace/executeCommand
                                    (list :command "libvirtVolume.createVolume"
                                          :arguments (vector (list :uri (concat "file://" (expand-file-name buffer-file-name))
                                                                   :output (getenv "LV_CREATE_OUTPUT")
                                                                   :passphrase (getenv "LV_PASSPHRASE")
                                                                   :writeSecretXml t
                                                                   :iterTimeMs 10))))))
            (push (cons 'create r) result))))
    (error (push (cons 'error (format "%S" err)) result)))
  (with-temp-file out (insert (json-encode result)))
  (kill-emacs 0))
