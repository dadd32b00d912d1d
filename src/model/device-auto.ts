/**
 * `--device auto`: CUDA, then WebGPU, then the CPU, taking the first whose session starts, with
 * a note of what each refused. Built over loadOnnxClassifier, whose per-device errors (with their
 * install advice) are what the note records.
 */
import { DeviceUnavailableError, OptionError } from '../errors.js';
import {
  DEVICES,
  errorText,
  loadOnnxClassifier,
  type Device,
  type OnnxClassifier,
  type OnnxClassifierOptions,
} from './onnx-classifier.js';

export type DeviceChoice = Device | 'auto';
export const DEVICE_CHOICES: readonly DeviceChoice[] = [...DEVICES, 'auto'];
/** The order 'auto' tries. */
export const AUTO_ORDER: readonly Device[] = ['cuda', 'webgpu', 'cpu'];

export interface DeviceAttempt {
  readonly device: Device;
  /** What the device said when it refused; undefined for the one taken. */
  readonly error?: string;
}

export interface DeviceOutcome<T> {
  readonly value: T;
  /** The device taken. */
  readonly device: Device;
  /** Every device tried, in order, the taken one last. */
  readonly attempts: readonly DeviceAttempt[];
  /** One line for users, e.g. "device auto took cpu (cuda: …; webgpu: …)". */
  readonly note: string;
}

export function checkDeviceChoice(choice: string): asserts choice is DeviceChoice {
  if (!DEVICE_CHOICES.includes(choice as DeviceChoice))
    throw new OptionError(`device '${choice}' is not one of ${DEVICE_CHOICES.join(', ')}`);
}

/**
 * Runs `start(device)` on the chosen device, or for 'auto' on each of AUTO_ORDER until one
 * succeeds. The CPU's error (or a named device's) is thrown as it is.
 */
export async function onDevice<T>(
  choice: DeviceChoice,
  start: (device: Device) => Promise<T>,
): Promise<DeviceOutcome<T>> {
  checkDeviceChoice(choice);
  if (choice !== 'auto') {
    const value = await start(choice);
    return { value, device: choice, attempts: [{ device: choice }], note: `device ${choice}` };
  }
  const attempts: DeviceAttempt[] = [];
  for (const device of AUTO_ORDER) {
    try {
      const value = await start(device);
      attempts.push({ device });
      const refused = attempts
        .filter((a) => a.error !== undefined)
        .map((a) => `${a.device}: ${a.error}`);
      const note = `device auto took ${device}${refused.length ? ` (${refused.join('; ')})` : ''}`;
      return { value, device, attempts, note };
    } catch (e) {
      if (device === AUTO_ORDER[AUTO_ORDER.length - 1]) throw e;
      // The note gives each refusal's reason; its advice ("or use --device cpu") is moot here.
      const error = e instanceof DeviceUnavailableError ? e.reason : errorText(e);
      attempts.push({ device, error });
    }
  }
  throw new Error('unreachable: AUTO_ORDER ends with a device whose error is thrown');
}

/** loadOnnxClassifier with `device: 'auto'` allowed; says which device was taken and why. */
export async function loadOnnxClassifierOn(
  model: string | Uint8Array,
  options: Omit<OnnxClassifierOptions, 'device'> & { device?: DeviceChoice } = {},
): Promise<DeviceOutcome<OnnxClassifier>> {
  const { device = 'cpu', ...rest } = options;
  return onDevice(device, (d) => loadOnnxClassifier(model, { ...rest, device: d }));
}
