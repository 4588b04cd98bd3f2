resource "libvirt_volume" "data" {
  name   = "data-${var.name}.qcow2"
  pool   = "default"
  format = "qcow2"
}

locals {
  volume_xml = <<-EOF
	<volume>
	  <name>data.qcow2</name>
	  <capacity unit="GiB">${var.size}</capacity>
	  <target>
	    <format type="qcow2"/>
	    <encryption format="luks">
	      <secret type="passphrase" uuid="not-a-uuid"/>
	    </encryption>
	  </target>
	</volume>
	EOF

  xslt = <<EOF
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:template match="/"><volume/></xsl:template>
</xsl:stylesheet>
EOF
}
