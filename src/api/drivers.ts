// The capability matrix: what each BMC driver can do and the driver_info it takes.
import { Router } from 'express';
import { CAPABILITY_DESCRIPTIONS, DRIVER_NAMES, DRIVERS, type DriverDescription } from '../domain/drivers.js';
import { notFound } from './errors.js';

function driverView(driver: DriverDescription) {
  return {
    name: driver.name,
    description: driver.description,
    capabilities: Object.fromEntries(
      Object.keys(CAPABILITY_DESCRIPTIONS).map((c) => [c, (driver.capabilities as readonly string[]).includes(c)]),
    ),
    boot_devices: driver.bootDevices,
    notes: driver.notes,
    driver_info: driver.driverInfo.map(({ name, required, secret, type, description, range, choices, maxBytes }) => ({
      name,
      required,
      secret,
      type,
      description,
      ...(range ? { range } : {}),
      ...(choices ? { choices } : {}),
      ...(maxBytes === undefined ? {} : { max_bytes: maxBytes }),
    })),
    links: [{ rel: 'self', href: `/v1/drivers/${driver.name}` }],
  };
}

function findDriver(name: string): DriverDescription {
  if (!Object.hasOwn(DRIVERS, name)) throw notFound('driver', name);
  return DRIVERS[name];
}

export function driversRouter(): Router {
  const router = Router();

  router.get('/', (_req, res) => {
    res.json({ drivers: DRIVER_NAMES.map((name) => driverView(DRIVERS[name])), capabilities: CAPABILITY_DESCRIPTIONS });
  });

  router.get('/:driver', (req, res) => {
    res.json(driverView(findDriver(req.params.driver)));
  });

  /** Ironic's shape: each driver_info key with its description, "Required." appended when it is. */
  router.get('/:driver/properties', (req, res) => {
    const driver = findDriver(req.params.driver);
    res.json(
      Object.fromEntries(
        driver.driverInfo.map((f) => [f.name, f.required ? `${f.description} Required.` : f.description]),
      ),
    );
  });

  return router;
}
