// Files that carry libvirt XML without being XML files (issue 12), as data: the language ids editors
// give them and their file patterns. The client's document selector, the server's capabilities, the
// CLI's folder walk and server/src/service/embedded.ts all read this one list.

/** VS Code's built-in `yaml`, the Ansible extension's `ansible`, Jinja extensions' ids, HashiCorp's ids. */
export const HOST_LANGUAGES = ['yaml', 'ansible', 'jinja', 'jinja-xml', 'j2', 'terraform', 'hcl'] as const;

/** File extensions by host kind (a `*.xml.j2` template ends in `.j2`). */
export const HOST_EXTENSIONS = {
  ansible: ['.yml', '.yaml'],
  jinja: ['.j2', '.jinja', '.jinja2'],
  terraform: ['.tf', '.hcl'],
} as const;

/** Glob patterns of those files (LSP DocumentFilter.pattern). */
export const HOST_PATTERNS = Object.values(HOST_EXTENSIONS).map(
  (exts) => `**/*.{${exts.map((e) => e.slice(1)).join(',')}}`,
);

/** The LSP document selector of every document the server judges. */
export const DOCUMENT_SELECTOR: ({ language: string } | { pattern: string })[] = [
  { language: 'xml' },
  ...HOST_LANGUAGES.map((language) => ({ language })),
  ...HOST_PATTERNS.map((pattern) => ({ pattern })),
];
