// Per-boot virtual media for the worker: an ISO with the ramdisk, the node's network_data and
// the agent token of this boot, published on the media server at an unguessable URL until the
// boot is over. The media server starts with the first boot that needs it.
import type { BootMediaConfig } from '../config.js';
import type { NetworkData } from '../domain/network-data.js';
import { writeBootIso } from './iso.js';
import { MediaServer } from './media-server.js';
import { ramdiskKernelArguments } from '../domain/ramdisk.js';
import { ramdiskFiles } from './ramdisk.js';

export interface BootMediaContent {
  agentToken: string;
  /** Absent or empty: the ramdisk uses DHCP. */
  networkData?: NetworkData;
}

export class BootMedia {
  readonly #config: BootMediaConfig;
  #server: Promise<MediaServer> | undefined;

  constructor(config: BootMediaConfig) {
    this.#config = config;
  }

  #media(): Promise<MediaServer> {
    this.#server ??= MediaServer.start({
      dir: this.#config.dir,
      host: this.#config.host,
      port: this.#config.port,
      publicUrl: this.#config.publicUrl,
    });
    // A port in use fails this boot, not every later one.
    this.#server.catch(() => (this.#server = undefined));
    return this.#server;
  }

  /** Builds `nodeUuid`'s ISO for this boot (replacing an earlier one) and answers its URL. */
  async publish(nodeUuid: string, content: BootMediaContent): Promise<string> {
    const media = await this.#media();
    await media.withdraw(nodeUuid);
    const { file, url } = media.allocate(nodeUuid);
    const files: Record<string, string> = { agent_token: content.agentToken };
    if (content.networkData?.links.length) files['network_data.json'] = JSON.stringify(content.networkData);
    await writeBootIso(file, ramdiskFiles(this.#config.ramdiskDir), {
      kernelArguments: ramdiskKernelArguments(this.#config.agentApiUrl),
      files,
    });
    return url;
  }

  async withdraw(nodeUuid: string): Promise<void> {
    await (await this.#media()).withdraw(nodeUuid);
  }
}
