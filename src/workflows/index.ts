export { bootDeviceWorkflow } from './management.js';
export { powerWorkflow } from './power.js';
export { powerSyncWorkflow } from './power-sync.js';
export { provisionWorkflow } from './provision.js';
export { reservationWorkflow, scheduledReservationWorkflow } from './reservation.js';
export { warmPoolWorkflow } from './warm-pool.js';
