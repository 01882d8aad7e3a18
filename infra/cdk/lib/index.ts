export { EcsCapacity, EcsCapacityProps, EcsCapacityCode, ECS_CAPACITY_DEFAULTS, ScaleOutAdjustment, WorstCaseTask } from './ecs-capacity';
export { EcsCapacityPropError } from './validate';
