import * as core from '@actions/core';
core.info(`main ${core.getInput('label')} sees [${core.getState('from-pre')}]`);
core.saveState('label', core.getInput('label'));
