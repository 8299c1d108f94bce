// What an image to deploy is described by: the formats the agent writes and the checksums it
// verifies. Shared by the agent and the API, so the API refuses what the agent could not do.

/** Each algorithm with the length of its digest in hex digits. */
export const HASH_HEX_DIGITS = { sha256: 64, sha512: 128 } as const;
export type HashAlgorithm = keyof typeof HASH_HEX_DIGITS;
export const HASH_ALGORITHMS = Object.keys(HASH_HEX_DIGITS) as [HashAlgorithm, ...HashAlgorithm[]];

export const DISK_FORMATS = ['raw', 'qcow2'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];
