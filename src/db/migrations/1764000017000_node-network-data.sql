-- Up Migration

-- Ironic's node.network_data: the node's static network (OpenStack network_data.json), which a
-- DHCP-less virtual-media boot carries to the ramdisk. Empty: the ramdisk uses DHCP.
ALTER TABLE nodes ADD COLUMN network_data jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Down Migration

ALTER TABLE nodes DROP COLUMN network_data;
