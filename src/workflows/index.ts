export { powerWorkflow } from './power.js';
export { provisionWorkflow } from './provision.js';
