// Documents several test files write (not a test): kept here so that each is written once.

/**
 * A domain with one file disk on `file`: the <driver> (of `driverType`) on line 4 and the <source>
 * on line 5, counted from 0.
 */
export function fileDiskDomain(file: string, driverType = 'qcow2'): string {
  return `<domain type='kvm'>
  <name>d</name>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='${driverType}'/>
      <source file='${file}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
`;
}

/** A minimal domain libvirt defines, with `devices` inside <devices> (one line: columns are the test's). */
export function domainWithDevices(devices: string): string {
  return `<domain type='kvm'><name>g</name><memory>65536</memory><os><type arch='x86_64'>hvm</type></os><devices>${devices}</devices></domain>`;
}
