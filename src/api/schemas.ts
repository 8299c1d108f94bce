// Request shapes. Objects are strict: an unknown field is a 400 naming it.
import { z } from 'zod';
import { networkDataSchema } from '../domain/network-data.js';
import { EVENT_KINDS } from '../db/events.js';
import { SYSTEM_NODE_FIELDS, WRITABLE_NODE_FIELDS } from '../db/nodes.js';
import { BOOT_DEVICES, DEPLOY_INTERFACES, INSPECT_INTERFACES } from '../domain/drivers.js';
import { finalBootInstanceInfo, finalBootProperties, FINAL_BOOT_METHODS } from '../domain/final-boot.js';
import { DISK_FORMATS, HASH_ALGORITHMS, HASH_HEX_DIGITS, type HashAlgorithm } from '../domain/image.js';
import { POWER_TARGETS } from '../domain/power.js';
import { PROVISION_STATES } from '../domain/provision.js';
import { rootDeviceHintsSchema } from '../domain/root-device.js';
import { boundedJsonObject } from './json-shape.js';

const NAME = /^[A-Za-z0-9._~-]+$/;
/** A MAC address as ports store it: lower case, colon separated. */
export const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

export const uuid = z.uuid({ message: 'must be a UUID' });
export const jsonObject = boundedJsonObject();
const nullableText = (max: number) => z.string().max(max).nullable();

export const nodeName = z
  .string()
  .min(1)
  .max(255)
  .regex(NAME, 'may hold only letters, digits and . _ ~ -')
  .refine((name) => !uuid.safeParse(name).success, 'must not look like a UUID');

/** A trait name: os-traits' upper-case style, CUSTOM_ for your own. */
export const trait = z
  .string()
  .max(255)
  .regex(/^[A-Z][A-Z0-9_]*$/, 'must be an upper-case trait name such as CUSTOM_RAID');

/** The fields a caller owns; the same schema checks a create and the result of a patch. */
export const nodeFields = z.strictObject({
  name: nodeName.nullable().default(null),
  driver: z.string().min(1).max(64),
  driver_info: jsonObject.default({}),
  // final_boot: the node's default way to start a deployed instance (kexec | reboot); root device hints
  // are checked here too, so a deploy never meets one the agent cannot read.
  properties: jsonObject
    .pipe(finalBootProperties.extend({ root_device: rootDeviceHintsSchema.optional() }))
    .default({}),
  // It carries a config drive: user_data alone may take 64 KiB.
  instance_info: boundedJsonObject(192 * 1024).default({}),
  network_data: networkDataSchema.default({ links: [], networks: [], services: [] }),
  extra: jsonObject.default({}),
  resource_class: nullableText(80).default(null),
  traits: z.array(trait).max(50).default([]),
  owner: nullableText(255).default(null),
  lessee: nullableText(255).default(null),
  retired: z.boolean().default(false),
  retired_reason: nullableText(255).default(null),
  boot_interface: z.enum(['pxe', 'ipxe', 'virtual-media']).default('pxe'),
  deploy_interface: z.enum(DEPLOY_INTERFACES).default('agent'),
  inspect_interface: z.enum(INSPECT_INTERFACES).default('auto'),
});
export type NodeFields = z.infer<typeof nodeFields>;

export const createNode = nodeFields.extend({ uuid: uuid.optional() });

/** RFC 6902 operations, as Ironic's PATCH takes them. */
export const jsonPatch = z
  .array(
    z.strictObject({
      op: z.enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
      path: z.string().startsWith('/', 'must be a JSON pointer such as /driver_info/redfish_address'),
      value: z.unknown().optional(),
      from: z.string().optional(),
    }),
  )
  .min(1, 'must hold at least one operation');

export const traitsRequest = z.strictObject({ traits: z.array(trait).max(50) });

/** An OpenStack config drive (config-2) as Ironic takes it: JSON the agent writes as an ISO. */
const configDrive = z.strictObject({
  meta_data: jsonObject.optional(),
  network_data: jsonObject.optional(),
  user_data: z
    .string()
    .max(64 * 1024)
    .optional(),
});
export type ConfigDrive = z.infer<typeof configDrive>;

export const powerRequest = z.strictObject({ target: z.enum(POWER_TARGETS) });
/** The steps of a manual clean or a service, run in the order given. */
const requestedSteps = z
  .array(
    z.strictObject({
      interface: z.string().min(1).max(64),
      step: z.string().min(1).max(255),
      args: jsonObject.default({}),
    }),
  )
  .min(1)
  .max(50);
export const provisionRequest = z.strictObject({
  target: z.string().min(1),
  clean_steps: requestedSteps.optional(),
  service_steps: requestedSteps.optional(),
  disable_ramdisk: z.boolean().optional(),
  configdrive: configDrive.optional(),
  /** Hashed (crypt SHA-512) as soon as it is parsed; only the hash is kept or sent on. */
  rescue_password: z.string().min(8).max(256).optional(),
});
/** An OpenSSH public key line: type, base64 key, optional comment. */
const sshPublicKey = z
  .string()
  .max(16 * 1024)
  .regex(
    /^(ssh|ecdsa|sk)-[A-Za-z0-9@.-]+ [A-Za-z0-9+/]+={0,3}( .*)?$/,
    'must be an OpenSSH public key such as "ssh-ed25519 AAAA… user@host"',
  );

/** POST /v1/deployments: Ironic's instance_info keys, with ssh_keys and user_data for the config drive. */
const imageSource = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' });
const hexDigest = z.string().regex(/^[0-9a-fA-F]+$/, 'must be a hexadecimal digest');

function checkDigestLength(algorithm: HashAlgorithm, digest: string, path: string[], ctx: z.RefinementCtx): void {
  const digits = HASH_HEX_DIGITS[algorithm];
  if (digest.length !== digits)
    ctx.addIssue({ code: 'custom', path, message: `a ${algorithm} digest has ${digits} hex digits` });
}

/** The image keys of a node's instance_info a deploy needs (Ironic's names); other keys may be there too. */
export const deployImageInfo = z
  .looseObject({
    image_source: imageSource,
    image_os_hash_algo: z.enum(HASH_ALGORITHMS),
    image_os_hash_value: hexDigest,
    image_disk_format: z.enum(DISK_FORMATS).optional(),
    // How the instance starts (final_boot), and the kernel a kexec loads when the image's newest is not the one.
    ...finalBootInstanceInfo.shape,
  })
  .superRefine((info, ctx) => {
    checkDigestLength(info.image_os_hash_algo, info.image_os_hash_value, ['image_os_hash_value'], ctx);
    if (info.ramdisk !== undefined && info.kernel === undefined)
      ctx.addIssue({ code: 'custom', path: ['kernel'], message: 'a ramdisk needs the kernel it goes with' });
  });

export const createDeployment = z
  .strictObject({
    node: z.string().min(1).max(255).optional(),
    allocation: z.string().min(1).max(255).optional(),
    image_source: imageSource,
    os_hash_algo: z.enum(HASH_ALGORITHMS),
    os_hash_value: hexDigest,
    image_disk_format: z.enum(DISK_FORMATS).default('raw'),
    configdrive: configDrive.optional(),
    user_data: configDrive.shape.user_data,
    ssh_keys: z.array(sshPublicKey).max(32).default([]),
    traits: z.array(trait).max(50).default([]),
    final_boot: z.enum(FINAL_BOOT_METHODS).optional(),
  })
  .superRefine((request, ctx) => {
    checkDigestLength(request.os_hash_algo, request.os_hash_value, ['os_hash_value'], ctx);
    if (request.configdrive && request.user_data !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['user_data'],
        message: 'give user_data alone or inside configdrive, not both',
      });
    }
    if (request.configdrive?.meta_data?.public_keys !== undefined && request.ssh_keys.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['ssh_keys'],
        message: 'give keys as ssh_keys or in configdrive.meta_data.public_keys, not both',
      });
    }
  });
export type CreateDeployment = z.infer<typeof createDeployment>;

/** PUT /v1/nodes/{id}/management/boot_device, as Ironic takes it. */
export const bootDeviceRequest = z.strictObject({
  boot_device: z.enum(BOOT_DEVICES),
  persistent: z.boolean().default(false),
});

export const maintenanceRequest = z.strictObject({ reason: z.string().max(255).optional() });

/** `limit` (default 100, at most 1000) and `marker` (the last UUID of the previous page). */
export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  marker: uuid.optional(),
});
const booleanParam = z.enum(['true', 'false']).transform((v) => v === 'true');

/** Every field a node is shown with, the names `fields=` may pick. */
export const NODE_VIEW_FIELDS = [
  'uuid',
  ...WRITABLE_NODE_FIELDS,
  ...SYSTEM_NODE_FIELDS,
  'created_at',
  'updated_at',
  'links',
] as const;
/** Ironic's `fields=a,b,c`: show only these fields of each node. */
const nodeFieldsParam = z
  .string()
  .transform((list) =>
    list
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(NODE_VIEW_FIELDS, { message: `each must be one of: ${NODE_VIEW_FIELDS.join(', ')}` })).min(1));
/** Columns a node list may be sorted by (Ironic's sort_key). */
export const NODE_SORT_KEYS = [
  'uuid',
  'name',
  'driver',
  'provision_state',
  'power_state',
  'resource_class',
  'owner',
  'lessee',
  'created_at',
  'updated_at',
  'provision_updated_at',
] as const;

export const nodeListQuery = pageQuery.extend({
  provision_state: z.enum(PROVISION_STATES as [string, ...string[]]).optional(),
  driver: z.string().optional(),
  maintenance: booleanParam.optional(),
  resource_class: z.string().optional(),
  owner: z.string().optional(),
  fields: nodeFieldsParam.optional(),
  sort_key: z.enum(NODE_SORT_KEYS).optional(),
  sort_dir: z.enum(['asc', 'desc']).default('asc'),
  /** Ironic's detail=True: node lists here are always detailed, so it is accepted and changes nothing. */
  detail: z.enum(['true', 'false', 'True', 'False']).optional(),
});
export const nodeShowQuery = z.strictObject({ fields: nodeFieldsParam.optional() });

export const createPort = z.strictObject({
  address: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.string().regex(MAC, 'must be a MAC address such as 52:54:00:12:34:56')),
  node_uuid: uuid,
  pxe_enabled: z.boolean().default(true),
  extra: jsonObject.default({}),
});

export const portListQuery = pageQuery.extend({
  node: z.string().optional(),
  address: z
    .string()
    .transform((s) => s.toLowerCase())
    .optional(),
});

export const eventListQuery = pageQuery.extend({
  node: z.string().optional(),
  kind: z.enum(EVENT_KINDS).optional(),
  user: z.string().optional(),
  project: z.string().optional(),
  since: z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 time' })
    .transform((s) => new Date(s))
    .optional(),
  until: z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 time' })
    .transform((s) => new Date(s))
    .optional(),
});

export const historyQuery = eventListQuery.pick({ limit: true, marker: true, kind: true });

export const deploymentListQuery = pageQuery.extend({ node: z.string().optional() });
