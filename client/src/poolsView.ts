// The "Libvirt" view in the Explorer: the connection (setting libvirtVolume.connection) → its pools
// → their volumes, each a server query (libvirtVolume.listPools / listVolumes / volumeXml, see
// server/src/lsp/commands.ts), so the host is reached by the server's virsh runner with its
// deadlines. A failed query is an error item where its children would be, never a modal dialog.
// A volume's XML opens read-only (a `libvirt-volume:` document, language xml: the server judges it).
import * as vscode from 'vscode';
import { ExecuteCommandRequest, type LanguageClient } from 'vscode-languageclient/node';
import { formatBytes } from '../../server/src/common/bytes';
// The answers' shapes (types only: nothing of host/ is bundled into the extension).
import type { PoolInfo } from '../../server/src/host/pools';
import type { VolumeInfo } from '../../server/src/host/volumes';
import { createVolumeUi } from './createVolume';

export const VIEW_ID = 'libvirtVolume.pools';
export const SCHEME = 'libvirt-volume';

export type Node =
  | { kind: 'connection'; uri: string }
  | { kind: 'pool'; uri: string; pool: PoolInfo }
  | { kind: 'volume'; uri: string; pool: string; volume: VolumeInfo }
  | { kind: 'message'; id: string; label: string; error: boolean; tooltip?: string };

const size = (n: number | undefined): string => (n === undefined ? '?' : formatBytes(n));

export function connectionSetting(): string {
  return vscode.workspace.getConfiguration('libvirtVolume').get<string>('connection', '').trim();
}

/** The read-only document of a volume's XML: the path names it, the query says where it lives. */
export function volumeUri(connection: string, pool: string, name: string): vscode.Uri {
  const query = new URLSearchParams({ connection, pool, name }).toString();
  return vscode.Uri.from({ scheme: SCHEME, path: `/${pool}/${name}.xml`, query });
}

class PoolsTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly client: Promise<LanguageClient>) {}

  refresh(node?: Node): void {
    this.changed.fire(node);
  }

  async query<T>(command: string, arg: object): Promise<T> {
    const c = await this.client;
    return (await c.sendRequest(ExecuteCommandRequest.type, { command, arguments: [arg] })) as T;
  }

  getTreeItem(n: Node): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    switch (n.kind) {
      case 'connection': {
        const item = new vscode.TreeItem(n.uri, C.Expanded);
        item.id = `c:${n.uri}`;
        item.iconPath = new vscode.ThemeIcon('server');
        item.contextValue = 'libvirtVolume.connection';
        item.tooltip = `libvirt connection ${n.uri} (setting libvirtVolume.connection)`;
        return item;
      }
      case 'pool': {
        const p = n.pool;
        // An inactive pool expands too: libvirt's refusal to list it shows where its volumes would.
        const item = new vscode.TreeItem(p.name, C.Collapsed);
        item.id = `p:${n.uri}\n${p.name}`;
        item.description = p.active
          ? `${p.type} · ${size(p.capacity)} · ${size(p.available)} available`
          : `${p.type} · inactive`;
        item.iconPath = new vscode.ThemeIcon(
          'database',
          p.active ? undefined : new vscode.ThemeColor('disabledForeground'),
        );
        item.contextValue = p.active ? 'libvirtVolume.pool' : 'libvirtVolume.pool.inactive';
        const where = p.targetPath ? `\n\ntarget: \`${p.targetPath}\`` : '';
        const sizes = `capacity ${size(p.capacity)}, allocation ${size(p.allocation)}, available ${size(p.available)}`;
        item.tooltip = new vscode.MarkdownString(
          `**${p.name}** (${p.type}${p.active ? '' : ', inactive'})${where}\n\n${sizes}`,
        );
        return item;
      }
      case 'volume': {
        const v = n.volume;
        const item = new vscode.TreeItem(v.name, C.None);
        item.id = `v:${n.uri}\n${n.pool}\n${v.name}`;
        if (v.error) {
          item.description = v.error;
          item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
          return item;
        }
        const facts = [size(v.capacity), `${size(v.allocation)} allocated`, v.format, v.encrypted && 'encrypted'];
        item.description = facts.filter(Boolean).join(' · ');
        item.iconPath = new vscode.ThemeIcon(v.encrypted ? 'lock' : 'file-binary');
        item.contextValue = 'libvirtVolume.volume';
        item.tooltip = v.path;
        item.command = { command: 'libvirtVolume.pools.openVolumeXml', title: 'Open XML', arguments: [n] };
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(n.label, C.None);
        item.id = n.id;
        item.tooltip = n.tooltip ?? n.label;
        if (n.error) item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
        return item;
      }
    }
  }

  async getChildren(n?: Node): Promise<Node[]> {
    if (!n) {
      const uri = connectionSetting();
      // No connection: empty, so the view's welcome content (package.json viewsWelcome) shows.
      return uri ? [{ kind: 'connection', uri }] : [];
    }
    if (n.kind === 'connection') {
      const pools = await this.attempt(`c:${n.uri}`, () =>
        this.query<PoolInfo[]>('libvirtVolume.listPools', { connection: n.uri }),
      );
      if (!Array.isArray(pools)) return [pools];
      if (!pools.length) return [message(`c:${n.uri}`, 'No storage pools')];
      return pools.map((pool) => ({ kind: 'pool', uri: n.uri, pool }));
    }
    if (n.kind === 'pool') {
      const id = `p:${n.uri}\n${n.pool.name}`;
      const vols = await this.attempt(id, () =>
        this.query<VolumeInfo[]>('libvirtVolume.listVolumes', { connection: n.uri, pool: n.pool.name }),
      );
      if (!Array.isArray(vols)) return [vols];
      if (!vols.length) return [message(id, 'No volumes')];
      return vols.map((volume) => ({ kind: 'volume', uri: n.uri, pool: n.pool.name, volume }));
    }
    return [];
  }

  /** A query's answer, or its failure as an error item (virsh missing, host unreachable, …). */
  private async attempt<T>(parent: string, q: () => Promise<T>): Promise<T | Node> {
    try {
      return await q();
    } catch (e) {
      const text = String((e as Error)?.message ?? e);
      return { kind: 'message', id: `${parent}\nerror`, label: text.split('\n')[0], error: true, tooltip: text };
    }
  }
}

const message = (parent: string, label: string): Node => ({ kind: 'message', id: `${parent}\n-`, label, error: false });

/** Serves `libvirt-volume:` documents: the volume's vol-dumpxml, read-only. */
class VolumeXmlProvider implements vscode.TextDocumentContentProvider {
  readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  constructor(private readonly tree: PoolsTree) {}
  provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const q = new URLSearchParams(uri.query);
    return this.tree.query<string>('libvirtVolume.volumeXml', {
      connection: q.get('connection') ?? '',
      pool: q.get('pool') ?? '',
      name: q.get('name') ?? '',
    });
  }
}

export function registerPoolsView(context: vscode.ExtensionContext, client: Promise<LanguageClient>): void {
  const tree = new PoolsTree(client);
  const xml = new VolumeXmlProvider(tree);
  const view = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: tree, showCollapseAll: true });
  const refreshAll = (): void => {
    tree.refresh();
    for (const d of vscode.workspace.textDocuments) if (d.uri.scheme === SCHEME) xml.changed.fire(d.uri);
  };
  context.subscriptions.push(
    view,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, xml),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('libvirtVolume.connection')) refreshAll();
    }),
    vscode.commands.registerCommand('libvirtVolume.pools.refresh', refreshAll),
    vscode.commands.registerCommand('libvirtVolume.pools.setConnection', async () => {
      const v = await vscode.window.showInputBox({
        title: 'libvirt connection',
        value: connectionSetting(),
        placeHolder: 'qemu:///system, qemu+ssh://user@host/system, … (empty: offline)',
        prompt: 'A libvirt URI, reached through virsh (Debian package libvirt-clients)',
        validateInput: (s) =>
          !s.trim() || /^[a-z][a-z0-9+.-]*:\/\//i.test(s.trim()) ? undefined : 'e.g. qemu:///system',
      });
      if (v === undefined) return;
      // A machine-scoped setting: the user's settings, never a workspace's (package.json).
      await vscode.workspace
        .getConfiguration('libvirtVolume')
        .update('connection', v.trim(), vscode.ConfigurationTarget.Global);
    }),
    vscode.commands.registerCommand('libvirtVolume.pools.openVolumeXml', async (n?: Node) => {
      if (n?.kind !== 'volume') return;
      try {
        const doc = await vscode.workspace.openTextDocument(volumeUri(n.uri, n.pool, n.volume.name));
        const shown = doc.languageId === 'xml' ? doc : await vscode.languages.setTextDocumentLanguage(doc, 'xml');
        await vscode.window.showTextDocument(shown, { preview: true });
      } catch (e) {
        // Removed meanwhile, say: libvirt's message, and the tree as it is now.
        void vscode.window.showErrorMessage(`Open Volume XML: ${(e as Error)?.message ?? e}`);
        tree.refresh();
      }
    }),
    // Into a pool; then the whole tree again: the pool's new volume, and the pools' sizes.
    ...(['createVolumeHere', 'createVolumeFromImageHere'] as const).map((id) =>
      vscode.commands.registerCommand(`libvirtVolume.pools.${id}`, async (n?: Node) => {
        if (n?.kind !== 'pool') return;
        const dest = { connection: n.uri, pool: n.pool.name };
        await createVolumeUi(await client, undefined, dest, id === 'createVolumeHere' ? undefined : {});
        tree.refresh();
      }),
    ),
  );
}
