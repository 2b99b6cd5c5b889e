console.log('post of failpost fails'); process.exit(2);
