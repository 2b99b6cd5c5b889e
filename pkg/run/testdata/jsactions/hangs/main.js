console.log('main of hangs');
