// What Ironic's own clients (openstacksdk, python-ironicclient) need before they send a request:
// version discovery at / and /v1 in Ironic's shape, and microversion negotiation through the
// X-OpenStack-Ironic-API-Version header. Tempered does not change behaviour by microversion: it
// answers every supported one the same way (the gaps are listed in the README).
import { Router, type Request, type RequestHandler } from 'express';
import { ApiError } from './errors.js';

/** The oldest and newest Ironic API microversions Tempered answers to. */
export const MIN_API_VERSION = '1.1';
export const MAX_API_VERSION = '1.78';

const VERSION_HEADER = 'x-openstack-ironic-api-version';
/** The generic microversion header keystoneauth sends too: `OpenStack-API-Version: baremetal 1.78`. */
const GENERIC_VERSION_HEADER = 'openstack-api-version';
const VERSION = /^1\.(\d{1,3})$/;

const minor = (version: string) => Number(VERSION.exec(version)![1]);

/** The microversion the caller asked for, from either header; undefined when it named none. */
function requestedVersion(req: Request): string | undefined {
  const ironic = req.get(VERSION_HEADER)?.trim();
  if (ironic) return ironic;
  const generic = req.get(GENERIC_VERSION_HEADER)?.trim().split(/\s+/);
  return generic?.[0]?.toLowerCase() === 'baremetal' ? generic[1] : undefined;
}

/**
 * Negotiates the request's microversion: none or `latest` gets the newest, one in range is
 * used, one out of range is refused with 406 (the range in the headers, as clients expect to
 * negotiate down from it), anything else is a 400. Every response names the range and the version used.
 */
export const negotiateVersion: RequestHandler = (req, res, next) => {
  res.set('X-OpenStack-Ironic-API-Minimum-Version', MIN_API_VERSION);
  res.set('X-OpenStack-Ironic-API-Maximum-Version', MAX_API_VERSION);
  res.vary(VERSION_HEADER);
  const asked = requestedVersion(req);
  let version = MAX_API_VERSION;
  if (asked !== undefined && asked.toLowerCase() !== 'latest') {
    if (!VERSION.test(asked)) {
      return next(
        new ApiError(
          400,
          'invalid_version',
          `API version "${asked}" is not of the form 1.N or "latest"`,
          `header.${VERSION_HEADER}`,
        ),
      );
    }
    if (minor(asked) < minor(MIN_API_VERSION) || minor(asked) > minor(MAX_API_VERSION)) {
      return next(
        new ApiError(
          406,
          'version_not_acceptable',
          `API version ${asked} is not supported: this server answers ${MIN_API_VERSION} to ${MAX_API_VERSION}`,
        ),
      );
    }
    version = asked;
  }
  res.locals.apiVersion = version;
  res.set('X-OpenStack-Ironic-API-Version', version);
  res.set('OpenStack-API-Version', `baremetal ${version}`);
  next();
};

function baseUrl(req: Request): string {
  return `${req.protocol}://${req.get('host')}`;
}

function versionEntry(req: Request) {
  return {
    id: 'v1',
    links: [{ href: `${baseUrl(req)}/v1/`, rel: 'self' }],
    status: 'CURRENT',
    min_version: MIN_API_VERSION,
    version: MAX_API_VERSION,
  };
}

/** The resources /v1 links to, as Ironic lists them. */
const V1_RESOURCES = ['nodes', 'ports', 'drivers', 'deploy_templates', 'deployments', 'events'];

/** GET / and GET /v1: no token needed, as in Ironic, so clients can discover before they authenticate. */
export function versionsRouter(): Router {
  const router = Router();
  router.get('/', (req, res) => {
    res.json({
      name: 'Tempered',
      description: 'Bare-metal provisioning on Temporal, speaking the OpenStack Ironic API.',
      default_version: versionEntry(req),
      versions: [versionEntry(req)],
    });
  });
  router.get(['/v1', '/v1/'], (req, res) => {
    const links = (resource: string) => [
      { href: `${baseUrl(req)}/v1/${resource}/`, rel: 'self' },
      { href: `${baseUrl(req)}/${resource}/`, rel: 'bookmark' },
    ];
    res.json({
      id: 'v1',
      links: [{ href: `${baseUrl(req)}/v1/`, rel: 'self' }],
      media_types: [{ base: 'application/json', type: 'application/vnd.openstack.ironic.v1+json' }],
      ...Object.fromEntries(V1_RESOURCES.map((resource) => [resource, links(resource)])),
      version: versionEntry(req),
    });
  });
  return router;
}
